"""software update catalogue (gdmf), enforcements, blueprint enforcements, device update state

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 21:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

_NOW = sa.text('(CURRENT_TIMESTAMP)')


def upgrade() -> None:
    op.create_table('software_updates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('platform', sa.String(length=64), nullable=False),
    sa.Column('major', sa.Integer(), nullable=False),
    sa.Column('minor', sa.Integer(), nullable=False),
    sa.Column('patch', sa.Integer(), nullable=False),
    sa.Column('extra', sa.String(length=32), nullable=False),
    sa.Column('prerequisite_build', sa.String(length=32), nullable=False),
    sa.Column('build', sa.String(length=32), nullable=False),
    sa.Column('public', sa.Boolean(), nullable=False),
    sa.Column('posting_date', sa.Date(), nullable=False),
    sa.Column('expiration_date', sa.Date(), nullable=True),
    sa.Column('created_at', sa.DateTime(), server_default=_NOW, nullable=False),
    sa.Column('updated_at', sa.DateTime(), server_default=_NOW, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_software_updates'))
    )
    op.create_index('ix_software_updates_version', 'software_updates', ['platform', 'major', 'minor', 'patch'])
    op.create_table('software_update_device_ids',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('software_update_id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(), server_default=_NOW, nullable=False),
    sa.ForeignKeyConstraint(['software_update_id'], ['software_updates.id'],
                            name=op.f('fk_software_update_device_ids_software_update_id_software_updates'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_software_update_device_ids')),
    sa.UniqueConstraint('software_update_id', 'device_id',
                        name=op.f('uq_software_update_device_ids_software_update_id'))
    )
    op.create_index(op.f('ix_software_update_device_ids_device_id'), 'software_update_device_ids', ['device_id'])
    op.create_table('software_update_enforcements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('details_url', sa.String(length=200), nullable=False),
    sa.Column('platforms', sa.JSON(), nullable=False),
    sa.Column('max_os_version', sa.String(length=32), nullable=False),
    sa.Column('delay_days', sa.Integer(), nullable=True),
    sa.Column('local_time', sa.Time(), nullable=True),
    sa.Column('os_version', sa.String(length=32), nullable=False),
    sa.Column('build_version', sa.String(length=32), nullable=False),
    sa.Column('local_datetime', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), server_default=_NOW, nullable=False),
    sa.Column('updated_at', sa.DateTime(), server_default=_NOW, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_software_update_enforcements')),
    sa.UniqueConstraint('name', name=op.f('uq_software_update_enforcements_name'))
    )
    op.create_table('software_update_enforcement_tags',
    sa.Column('enforcement_id', sa.Integer(), nullable=False),
    sa.Column('tag_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['enforcement_id'], ['software_update_enforcements.id'],
                            name=op.f('fk_software_update_enforcement_tags_enforcement_id_software_update_enforcements'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tag_id'], ['tags.id'], name=op.f('fk_software_update_enforcement_tags_tag_id_tags'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('enforcement_id', 'tag_id', name=op.f('pk_software_update_enforcement_tags'))
    )
    op.create_index(op.f('ix_software_update_enforcement_tags_tag_id'), 'software_update_enforcement_tags', ['tag_id'])
    op.create_table('blueprint_software_update_enforcements',
    sa.Column('blueprint_id', sa.Integer(), nullable=False),
    sa.Column('enforcement_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['blueprint_id'], ['blueprints.id'],
                            name=op.f('fk_blueprint_software_update_enforcements_blueprint_id_blueprints'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['enforcement_id'], ['software_update_enforcements.id'],
                            name=op.f('fk_blueprint_software_update_enforcements_enforcement_id_software_update_enforcements')),
    sa.PrimaryKeyConstraint('blueprint_id', 'enforcement_id', name=op.f('pk_blueprint_software_update_enforcements'))
    )
    op.create_index(op.f('ix_blueprint_software_update_enforcements_enforcement_id'),
                    'blueprint_software_update_enforcements', ['enforcement_id'])
    op.create_table('device_software_updates',
    sa.Column('enrolled_device_id', sa.Integer(), nullable=False),
    sa.Column('software_update_device_id', sa.String(length=32), nullable=True),
    sa.Column('install_state', sa.String(length=32), nullable=True),
    sa.Column('pending_os_version', sa.String(length=32), nullable=True),
    sa.Column('pending_build_version', sa.String(length=32), nullable=True),
    sa.Column('os_version', sa.String(length=32), nullable=True),
    sa.Column('os_extra', sa.String(length=16), nullable=True),
    sa.Column('failure_reason', sa.JSON(), nullable=True),
    sa.Column('install_reason', sa.JSON(), nullable=True),
    sa.Column('reported_at', sa.DateTime(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), server_default=_NOW, nullable=False),
    sa.ForeignKeyConstraint(['enrolled_device_id'], ['enrolled_devices.id'],
                            name=op.f('fk_device_software_updates_enrolled_device_id_enrolled_devices'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('enrolled_device_id', name=op.f('pk_device_software_updates'))
    )


def downgrade() -> None:
    op.drop_table('device_software_updates')
    op.drop_index(op.f('ix_blueprint_software_update_enforcements_enforcement_id'),
                  table_name='blueprint_software_update_enforcements')
    op.drop_table('blueprint_software_update_enforcements')
    op.drop_index(op.f('ix_software_update_enforcement_tags_tag_id'), table_name='software_update_enforcement_tags')
    op.drop_table('software_update_enforcement_tags')
    op.drop_table('software_update_enforcements')
    op.drop_index(op.f('ix_software_update_device_ids_device_id'), table_name='software_update_device_ids')
    op.drop_table('software_update_device_ids')
    op.drop_index('ix_software_updates_version', table_name='software_updates')
    op.drop_table('software_updates')
