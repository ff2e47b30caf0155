"""FileVault and recovery password configurations, per-device escrow state, audit events

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 21:00:00
"""
from alembic import op
import sqlalchemy as sa

import espalier.models.base


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def _timestamps() -> list[sa.Column]:
    return [sa.Column('created_at', sa.DateTime(), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
            sa.Column('updated_at', sa.DateTime(), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False)]


def upgrade() -> None:
    op.create_table('filevault_configs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('escrow_location_display_name', sa.String(length=256), nullable=False),
    sa.Column('at_login_only', sa.Boolean(), nullable=False),
    sa.Column('bypass_attempts', sa.Integer(), nullable=False),
    sa.Column('show_recovery_key', sa.Boolean(), nullable=False),
    sa.Column('destroy_key_on_standby', sa.Boolean(), nullable=False),
    sa.Column('prk_rotation_interval_days', sa.Integer(), nullable=False),
    *_timestamps(),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_filevault_configs')),
    sa.UniqueConstraint('name', name=op.f('uq_filevault_configs_name'))
    )
    op.create_table('recovery_password_configs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('dynamic_password', sa.Boolean(), nullable=False),
    sa.Column('static_password', espalier.models.base.SecretText(), nullable=True),
    sa.Column('rotation_interval_days', sa.Integer(), nullable=False),
    sa.Column('rotate_firmware_password', sa.Boolean(), nullable=False),
    *_timestamps(),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recovery_password_configs')),
    sa.UniqueConstraint('name', name=op.f('uq_recovery_password_configs_name'))
    )
    op.create_table('audit_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('token_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('username', sa.String(length=150), nullable=True),
    sa.Column('object_type', sa.String(length=64), nullable=False),
    sa.Column('object_id', sa.String(length=64), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_events'))
    )
    op.create_index('ix_audit_events_object', 'audit_events', ['object_type', 'object_id', 'id'])
    op.create_index('ix_audit_events_action', 'audit_events', ['action', 'id'])
    with op.batch_alter_table('blueprints', schema=None) as batch_op:
        batch_op.add_column(sa.Column('filevault_config_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('recovery_password_config_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_blueprints_filevault_config_id'), ['filevault_config_id'])
        batch_op.create_index(batch_op.f('ix_blueprints_recovery_password_config_id'), ['recovery_password_config_id'])
        batch_op.create_foreign_key(batch_op.f('fk_blueprints_filevault_config_id_filevault_configs'),
                                    'filevault_configs', ['filevault_config_id'], ['id'])
        batch_op.create_foreign_key(
            batch_op.f('fk_blueprints_recovery_password_config_id_recovery_password_configs'),
            'recovery_password_configs', ['recovery_password_config_id'], ['id'])
    with op.batch_alter_table('enrolled_devices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('filevault_escrow_key', espalier.models.base.SecretText(), nullable=True))
        batch_op.add_column(sa.Column('filevault_escrow_certificate', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('filevault_profile_token', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('filevault_prk_escrowed_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('recovery_password_updated_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('pending_recovery_password', espalier.models.base.SecretText(), nullable=True))
        batch_op.add_column(sa.Column('pending_recovery_password_at', sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('enrolled_devices', schema=None) as batch_op:
        for column in ('pending_recovery_password_at', 'pending_recovery_password', 'recovery_password_updated_at',
                       'filevault_prk_escrowed_at', 'filevault_profile_token', 'filevault_escrow_certificate',
                       'filevault_escrow_key'):
            batch_op.drop_column(column)
    with op.batch_alter_table('blueprints', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_blueprints_recovery_password_config_id_recovery_password_configs'),
                                 type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_blueprints_filevault_config_id_filevault_configs'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_blueprints_recovery_password_config_id'))
        batch_op.drop_index(batch_op.f('ix_blueprints_filevault_config_id'))
        batch_op.drop_column('recovery_password_config_id')
        batch_op.drop_column('filevault_config_id')
    op.drop_index('ix_audit_events_action', table_name='audit_events')
    op.drop_index('ix_audit_events_object', table_name='audit_events')
    op.drop_table('audit_events')
    op.drop_table('recovery_password_configs')
    op.drop_table('filevault_configs')
