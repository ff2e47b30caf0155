"""declarative device management: declaration versions, device declaration status, sync tokens

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 21:00:00
"""
import sqlalchemy as sa
from alembic import op

from espalier.models.base import SecretText

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'declarations',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('artifact_version_id', sa.String(length=36), nullable=False),
        sa.Column('type', sa.String(length=256), nullable=False),
        sa.Column('identifier', sa.String(length=64), nullable=False),
        sa.Column('server_token', sa.String(length=64), nullable=False),
        sa.Column('source', SecretText(), nullable=True),
        sa.ForeignKeyConstraint(['artifact_version_id'], ['artifact_versions.id'],
                                name=op.f('fk_declarations_artifact_version_id_artifact_versions'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_declarations')),
        sa.UniqueConstraint('artifact_version_id', name=op.f('uq_declarations_artifact_version_id')),
    )
    op.create_index(op.f('ix_declarations_identifier'), 'declarations', ['identifier'])
    op.create_table(
        'device_declarations',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('enrolled_device_id', sa.Integer(), nullable=False),
        sa.Column('identifier', sa.String(length=64), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('server_token', sa.String(length=64), nullable=False),
        sa.Column('valid', sa.String(length=16), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('reasons', sa.JSON(), nullable=True),
        sa.Column('updated_at', sa.DateTime(), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
        sa.ForeignKeyConstraint(['enrolled_device_id'], ['enrolled_devices.id'],
                                name=op.f('fk_device_declarations_enrolled_device_id_enrolled_devices'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_device_declarations')),
        sa.UniqueConstraint('enrolled_device_id', 'identifier',
                            name=op.f('uq_device_declarations_enrolled_device_id')),
    )
    op.create_table(
        'declarative_reports',
        sa.Column('enrolled_device_id', sa.Integer(), nullable=False),
        sa.Column('status_items', sa.JSON(), nullable=False),
        sa.Column('errors', sa.JSON(), nullable=True),
        sa.Column('updated_at', sa.DateTime(), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
        sa.ForeignKeyConstraint(['enrolled_device_id'], ['enrolled_devices.id'],
                                name=op.f('fk_declarative_reports_enrolled_device_id_enrolled_devices'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('enrolled_device_id', name=op.f('pk_declarative_reports')),
    )
    with op.batch_alter_table('blueprints', schema=None) as batch_op:
        batch_op.add_column(sa.Column('declaration_count', sa.Integer(), server_default='0', nullable=False))
    with op.batch_alter_table('enrolled_devices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('declarations_token', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('declarations_token_queued', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('enrolled_devices', schema=None) as batch_op:
        batch_op.drop_column('declarations_token_queued')
        batch_op.drop_column('declarations_token')
    with op.batch_alter_table('blueprints', schema=None) as batch_op:
        batch_op.drop_column('declaration_count')
    op.drop_table('declarative_reports')
    op.drop_table('device_declarations')
    op.drop_index(op.f('ix_declarations_identifier'), table_name='declarations')
    op.drop_table('declarations')
