"""blueprints: legacy_profiles_via_ddm (profiles as com.apple.configuration.legacy declarations)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 22:00:00
"""
import sqlalchemy as sa
from alembic import op


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('blueprints') as batch:
        batch.add_column(sa.Column('legacy_profiles_via_ddm', sa.Boolean(), nullable=False, server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('blueprints') as batch:
        batch.drop_column('legacy_profiles_via_ddm')
