"""ADE enrollments: DEP enrollments, DEP sessions, a virtual server's default enrollment, the macOS admin account

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 01:10:00
"""
from alembic import op
import sqlalchemy as sa

import espalier.models.base


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('dep_enrollments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('display_name', sa.String(length=256), nullable=False),
    sa.Column('virtual_server_id', sa.Integer(), nullable=False),
    sa.Column('push_certificate_id', sa.Integer(), nullable=False),
    sa.Column('blueprint_id', sa.Integer(), nullable=True),
    sa.Column('secret', espalier.models.base.SecretText(), nullable=True),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('profile_uuid', sa.String(length=64), nullable=True),
    sa.Column('is_supervised', sa.Boolean(), nullable=False),
    sa.Column('is_mandatory', sa.Boolean(), nullable=False),
    sa.Column('is_mdm_removable', sa.Boolean(), nullable=False),
    sa.Column('is_multi_user', sa.Boolean(), nullable=False),
    sa.Column('await_device_configured', sa.Boolean(), nullable=False),
    sa.Column('auto_advance_setup', sa.Boolean(), nullable=False),
    sa.Column('allow_pairing', sa.Boolean(), nullable=False),
    sa.Column('include_tls_certificates', sa.Boolean(), nullable=False),
    sa.Column('skip_setup_items', sa.JSON(), nullable=False),
    sa.Column('language', sa.String(length=3), nullable=False),
    sa.Column('region', sa.String(length=2), nullable=False),
    sa.Column('department', sa.String(length=125), nullable=False),
    sa.Column('org_magic', sa.String(length=256), nullable=False),
    sa.Column('support_phone_number', sa.String(length=50), nullable=False),
    sa.Column('support_email_address', sa.String(length=250), nullable=False),
    sa.Column('ios_min_version', sa.String(length=32), nullable=False),
    sa.Column('ios_max_version', sa.String(length=32), nullable=False),
    sa.Column('macos_min_version', sa.String(length=32), nullable=False),
    sa.Column('macos_max_version', sa.String(length=32), nullable=False),
    sa.Column('admin_full_name', sa.String(length=80), nullable=True),
    sa.Column('admin_short_name', sa.String(length=32), nullable=True),
    sa.Column('hidden_admin', sa.Boolean(), nullable=False),
    sa.Column('admin_password_complexity', sa.Integer(), nullable=False),
    sa.Column('admin_password_rotation_delay', sa.Integer(), nullable=False),
    sa.Column('defined_at', sa.DateTime(), nullable=True),
    sa.Column('define_error', sa.String(length=256), nullable=True),
    sa.Column('created_at', sa.DateTime(), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', sa.DateTime(), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.ForeignKeyConstraint(['blueprint_id'], ['blueprints.id'], name=op.f('fk_dep_enrollments_blueprint_id_blueprints'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['push_certificate_id'], ['push_certificates.id'], name=op.f('fk_dep_enrollments_push_certificate_id_push_certificates'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['virtual_server_id'], ['dep_virtual_servers.id'], name=op.f('fk_dep_enrollments_virtual_server_id_dep_virtual_servers'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dep_enrollments')),
    sa.UniqueConstraint('name', name=op.f('uq_dep_enrollments_name')),
    sa.UniqueConstraint('profile_uuid', name=op.f('uq_dep_enrollments_profile_uuid')),
    sa.UniqueConstraint('secret_hash', name=op.f('uq_dep_enrollments_secret_hash'))
    )
    with op.batch_alter_table('dep_devices', schema=None) as batch_op:
        batch_op.create_foreign_key(batch_op.f('fk_dep_devices_enrollment_id_dep_enrollments'), 'dep_enrollments', ['enrollment_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('dep_virtual_servers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('default_enrollment_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_dep_vs_default_enrollment', 'dep_enrollments', ['default_enrollment_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('enrolled_devices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dep_enrollment_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('admin_short_name', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('admin_password', espalier.models.base.SecretText(), nullable=True))
        batch_op.add_column(sa.Column('admin_password_updated_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('account_configuration_queued_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('device_configured_queued_at', sa.DateTime(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_enrolled_devices_dep_enrollment_id_dep_enrollments'), 'dep_enrollments', ['dep_enrollment_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('enrollment_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dep_enrollment_id', sa.Integer(), nullable=True))
        batch_op.alter_column('enrollment_id',
               existing_type=sa.INTEGER(),
               nullable=True)
        batch_op.create_index(batch_op.f('ix_enrollment_sessions_dep_enrollment_id'), ['dep_enrollment_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_enrollment_sessions_dep_enrollment_id_dep_enrollments'), 'dep_enrollments', ['dep_enrollment_id'], ['id'], ondelete='CASCADE')



def downgrade() -> None:
    with op.batch_alter_table('enrollment_sessions', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_enrollment_sessions_dep_enrollment_id_dep_enrollments'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_enrollment_sessions_dep_enrollment_id'))
        batch_op.alter_column('enrollment_id',
               existing_type=sa.INTEGER(),
               nullable=False)
        batch_op.drop_column('dep_enrollment_id')

    with op.batch_alter_table('enrolled_devices', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_enrolled_devices_dep_enrollment_id_dep_enrollments'), type_='foreignkey')
        batch_op.drop_column('device_configured_queued_at')
        batch_op.drop_column('account_configuration_queued_at')
        batch_op.drop_column('admin_password_updated_at')
        batch_op.drop_column('admin_password')
        batch_op.drop_column('admin_short_name')
        batch_op.drop_column('dep_enrollment_id')

    with op.batch_alter_table('dep_virtual_servers', schema=None) as batch_op:
        batch_op.drop_constraint('fk_dep_vs_default_enrollment', type_='foreignkey')
        batch_op.drop_column('default_enrollment_id')

    with op.batch_alter_table('dep_devices', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_dep_devices_enrollment_id_dep_enrollments'), type_='foreignkey')

    op.drop_table('dep_enrollments')
