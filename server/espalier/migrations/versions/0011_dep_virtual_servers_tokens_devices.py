"""ADE (DEP): organizations, server tokens, virtual servers with their sync state, devices

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 20:50:53.211002
"""
from alembic import op
import sqlalchemy as sa

import espalier.models.base


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('dep_organizations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('identifier', sa.String(length=128), nullable=False),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('admin_id', sa.String(length=256), nullable=False),
    sa.Column('email', sa.String(length=256), nullable=False),
    sa.Column('phone', sa.String(length=256), nullable=False),
    sa.Column('address', sa.Text(), nullable=False),
    sa.Column('type', sa.String(length=16), nullable=False),
    sa.Column('version', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', sa.DateTime(), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dep_organizations')),
    sa.UniqueConstraint('identifier', name=op.f('uq_dep_organizations_identifier'))
    )
    op.create_table('dep_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('certificate', sa.Text(), nullable=False),
    sa.Column('private_key', espalier.models.base.SecretText(), nullable=True),
    sa.Column('consumer_key', sa.String(length=256), nullable=True),
    sa.Column('consumer_secret', espalier.models.base.SecretText(), nullable=True),
    sa.Column('access_token', espalier.models.base.SecretText(), nullable=True),
    sa.Column('access_secret', espalier.models.base.SecretText(), nullable=True),
    sa.Column('access_token_expiry', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', sa.DateTime(), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dep_tokens'))
    )
    op.create_table('dep_virtual_servers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('uuid', sa.String(length=64), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('token_id', sa.Integer(), nullable=True),
    sa.Column('cursor', sa.Text(), nullable=True),
    sa.Column('cursor_kind', sa.String(length=8), nullable=True),
    sa.Column('fetch_started_at', sa.DateTime(), nullable=True),
    sa.Column('last_synced_at', sa.DateTime(), nullable=True),
    sa.Column('sync_claim', sa.String(length=36), nullable=True),
    sa.Column('sync_task_id', sa.String(length=36), nullable=True),
    sa.Column('sync_claimed_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', sa.DateTime(), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['dep_organizations.id'], name=op.f('fk_dep_virtual_servers_organization_id_dep_organizations')),
    sa.ForeignKeyConstraint(['token_id'], ['dep_tokens.id'], name=op.f('fk_dep_virtual_servers_token_id_dep_tokens')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dep_virtual_servers')),
    sa.UniqueConstraint('token_id', name=op.f('uq_dep_virtual_servers_token_id')),
    sa.UniqueConstraint('uuid', name=op.f('uq_dep_virtual_servers_uuid'))
    )
    op.create_table('dep_devices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('virtual_server_id', sa.Integer(), nullable=False),
    sa.Column('serial_number', sa.String(length=64), nullable=False),
    sa.Column('asset_tag', sa.String(length=256), nullable=True),
    sa.Column('color', sa.String(length=256), nullable=True),
    sa.Column('description', sa.String(length=256), nullable=True),
    sa.Column('device_family', sa.String(length=256), nullable=True),
    sa.Column('model', sa.String(length=256), nullable=True),
    sa.Column('os', sa.String(length=256), nullable=True),
    sa.Column('device_assigned_by', sa.String(length=256), nullable=True),
    sa.Column('device_assigned_date', sa.DateTime(), nullable=True),
    sa.Column('last_op_type', sa.String(length=16), nullable=True),
    sa.Column('last_op_date', sa.DateTime(), nullable=True),
    sa.Column('profile_status', sa.String(length=16), nullable=True),
    sa.Column('profile_uuid', sa.String(length=64), nullable=True),
    sa.Column('profile_assign_time', sa.DateTime(), nullable=True),
    sa.Column('profile_push_time', sa.DateTime(), nullable=True),
    sa.Column('enrollment_id', sa.Integer(), nullable=True),
    sa.Column('fetched_at', sa.DateTime(), nullable=True),
    sa.Column('disowned_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', sa.DateTime(), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.ForeignKeyConstraint(['virtual_server_id'], ['dep_virtual_servers.id'], name=op.f('fk_dep_devices_virtual_server_id_dep_virtual_servers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dep_devices')),
    sa.UniqueConstraint('serial_number', name=op.f('uq_dep_devices_serial_number'))
    )
    with op.batch_alter_table('dep_devices', schema=None) as batch_op:
        batch_op.create_index('ix_dep_devices_created_at', ['created_at'], unique=False)
        batch_op.create_index('ix_dep_devices_virtual_server', ['virtual_server_id', 'fetched_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('dep_devices', schema=None) as batch_op:
        batch_op.drop_index('ix_dep_devices_virtual_server')
        batch_op.drop_index('ix_dep_devices_created_at')

    op.drop_table('dep_devices')
    op.drop_table('dep_virtual_servers')
    op.drop_table('dep_tokens')
    op.drop_table('dep_organizations')
