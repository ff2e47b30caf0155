"""store apps: store_apps, licence_requests, blueprints.store_app_count

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 00:45:15
"""
from alembic import op
import sqlalchemy as sa

import espalier.models.base


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('store_apps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('artifact_version_id', sa.String(length=36), nullable=False),
    sa.Column('location_asset_id', sa.Integer(), nullable=False),
    sa.Column('associated_domains', sa.JSON(), nullable=False),
    sa.Column('associated_domains_enable_direct_downloads', sa.Boolean(), nullable=False),
    sa.Column('configuration', espalier.models.base.SecretText(), nullable=True),
    sa.Column('content_filter_uuid', sa.String(length=36), nullable=True),
    sa.Column('dns_proxy_uuid', sa.String(length=36), nullable=True),
    sa.Column('vpn_uuid', sa.String(length=36), nullable=True),
    sa.Column('prevent_backup', sa.Boolean(), nullable=False),
    sa.Column('removable', sa.Boolean(), nullable=False),
    sa.Column('remove_on_unenroll', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['artifact_version_id'], ['artifact_versions.id'], name=op.f('fk_store_apps_artifact_version_id_artifact_versions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['location_asset_id'], ['location_assets.id'], name=op.f('fk_store_apps_location_asset_id_location_assets'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_store_apps')),
    sa.UniqueConstraint('artifact_version_id', name=op.f('uq_store_apps_artifact_version_id'))
    )
    with op.batch_alter_table('store_apps', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_store_apps_location_asset_id'), ['location_asset_id'], unique=False)

    op.create_table('licence_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('location_asset_id', sa.Integer(), nullable=False),
    sa.Column('serial_number', sa.String(length=64), nullable=False),
    sa.Column('enrolled_device_id', sa.Integer(), nullable=True),
    sa.Column('artifact_version_id', sa.String(length=36), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(), nullable=False),
    sa.Column('event_id', sa.String(length=128), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', sa.DateTime(), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.ForeignKeyConstraint(['artifact_version_id'], ['artifact_versions.id'], name=op.f('fk_licence_requests_artifact_version_id_artifact_versions'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['enrolled_device_id'], ['enrolled_devices.id'], name=op.f('fk_licence_requests_enrolled_device_id_enrolled_devices'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['location_asset_id'], ['location_assets.id'], name=op.f('fk_licence_requests_location_asset_id_location_assets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_licence_requests')),
    sa.UniqueConstraint('location_asset_id', 'serial_number', name=op.f('uq_licence_requests_location_asset_id'))
    )
    with op.batch_alter_table('licence_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_licence_requests_artifact_version_id'), ['artifact_version_id'], unique=False)
        batch_op.create_index('ix_licence_requests_due', ['next_attempt_at'], unique=False, postgresql_where=sa.text("status = 'queued'"), sqlite_where=sa.text("status = 'queued'"))
        batch_op.create_index(batch_op.f('ix_licence_requests_enrolled_device_id'), ['enrolled_device_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_licence_requests_event_id'), ['event_id'], unique=False)

    with op.batch_alter_table('blueprints', schema=None) as batch_op:
        batch_op.add_column(sa.Column('store_app_count', sa.Integer(), server_default='0', nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('blueprints', schema=None) as batch_op:
        batch_op.drop_column('store_app_count')

    with op.batch_alter_table('licence_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_licence_requests_event_id'))
        batch_op.drop_index(batch_op.f('ix_licence_requests_enrolled_device_id'))
        batch_op.drop_index('ix_licence_requests_due', postgresql_where=sa.text("status = 'queued'"), sqlite_where=sa.text("status = 'queued'"))
        batch_op.drop_index(batch_op.f('ix_licence_requests_artifact_version_id'))

    op.drop_table('licence_requests')
    with op.batch_alter_table('store_apps', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_store_apps_location_asset_id'))

    op.drop_table('store_apps')
