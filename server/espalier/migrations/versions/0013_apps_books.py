"""apps and books: locations, assets, location assets, device assignments, notifications, licence events

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 20:51:24.929348
"""
from alembic import op
import sqlalchemy as sa

import espalier.models.base


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('assets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('adam_id', sa.String(length=64), nullable=False),
    sa.Column('pricing_param', sa.String(length=16), nullable=False),
    sa.Column('product_type', sa.String(length=16), nullable=False),
    sa.Column('device_assignable', sa.Boolean(), nullable=False),
    sa.Column('revocable', sa.Boolean(), nullable=False),
    sa.Column('supported_platforms', sa.JSON(), nullable=False),
    sa.Column('metadata', sa.JSON(), nullable=True),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('bundle_id', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', sa.DateTime(), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assets')),
    sa.UniqueConstraint('adam_id', 'pricing_param', name=op.f('uq_assets_adam_id'))
    )
    op.create_table('locations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('server_token', espalier.models.base.SecretText(), nullable=True),
    sa.Column('server_token_hash', sa.String(length=64), nullable=False),
    sa.Column('server_token_expiration_date', sa.DateTime(), nullable=False),
    sa.Column('organization_name', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('country_code', sa.String(length=2), nullable=False),
    sa.Column('library_uid', sa.String(length=256), nullable=False),
    sa.Column('platform', sa.String(length=64), nullable=False),
    sa.Column('website_url', sa.Text(), nullable=False),
    sa.Column('mdm_info_id', sa.String(length=36), nullable=False),
    sa.Column('notification_auth_token', espalier.models.base.SecretText(), nullable=True),
    sa.Column('sync_lock', sa.String(length=36), nullable=True),
    sa.Column('sync_locked_at', sa.DateTime(), nullable=True),
    sa.Column('last_sync_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', sa.DateTime(), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_locations')),
    sa.UniqueConstraint('library_uid', name=op.f('uq_locations_library_uid')),
    sa.UniqueConstraint('mdm_info_id', name=op.f('uq_locations_mdm_info_id')),
    sa.UniqueConstraint('server_token_hash', name=op.f('uq_locations_server_token_hash'))
    )
    op.create_table('apps_books_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.String(length=128), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('assets', sa.JSON(), nullable=False),
    sa.Column('serial_numbers', sa.JSON(), nullable=False),
    sa.Column('failures', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', sa.DateTime(), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.ForeignKeyConstraint(['location_id'], ['locations.id'], name=op.f('fk_apps_books_events_location_id_locations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_apps_books_events')),
    sa.UniqueConstraint('location_id', 'event_id', name=op.f('uq_apps_books_events_location_id'))
    )
    with op.batch_alter_table('apps_books_events', schema=None) as batch_op:
        batch_op.create_index('ix_apps_books_events_pending', ['updated_at'], unique=False, postgresql_where=sa.text("status = 'PENDING'"), sqlite_where=sa.text("status = 'PENDING'"))

    op.create_table('apps_books_notifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=False),
    sa.Column('notification_id', sa.String(length=128), nullable=False),
    sa.Column('notification_type', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.ForeignKeyConstraint(['location_id'], ['locations.id'], name=op.f('fk_apps_books_notifications_location_id_locations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_apps_books_notifications')),
    sa.UniqueConstraint('location_id', 'notification_id', name=op.f('uq_apps_books_notifications_location_id'))
    )
    op.create_table('location_assets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=False),
    sa.Column('asset_id', sa.Integer(), nullable=False),
    sa.Column('assigned_count', sa.Integer(), nullable=False),
    sa.Column('available_count', sa.Integer(), nullable=False),
    sa.Column('retired_count', sa.Integer(), nullable=False),
    sa.Column('total_count', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', sa.DateTime(), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.ForeignKeyConstraint(['asset_id'], ['assets.id'], name=op.f('fk_location_assets_asset_id_assets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['location_id'], ['locations.id'], name=op.f('fk_location_assets_location_id_locations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_location_assets')),
    sa.UniqueConstraint('asset_id', 'location_id', name=op.f('uq_location_assets_asset_id'))
    )
    with op.batch_alter_table('location_assets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_location_assets_location_id'), ['location_id'], unique=False)

    op.create_table('device_assignments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('location_asset_id', sa.Integer(), nullable=False),
    sa.Column('serial_number', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.ForeignKeyConstraint(['location_asset_id'], ['location_assets.id'], name=op.f('fk_device_assignments_location_asset_id_location_assets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_device_assignments')),
    sa.UniqueConstraint('location_asset_id', 'serial_number', name=op.f('uq_device_assignments_location_asset_id'))
    )
    with op.batch_alter_table('device_assignments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_device_assignments_serial_number'), ['serial_number'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('device_assignments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_device_assignments_serial_number'))

    op.drop_table('device_assignments')
    with op.batch_alter_table('location_assets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_location_assets_location_id'))

    op.drop_table('location_assets')
    op.drop_table('apps_books_notifications')
    with op.batch_alter_table('apps_books_events', schema=None) as batch_op:
        batch_op.drop_index('ix_apps_books_events_pending', postgresql_where=sa.text("status = 'PENDING'"), sqlite_where=sa.text("status = 'PENDING'"))

    op.drop_table('apps_books_events')
    op.drop_table('locations')
    op.drop_table('assets')
