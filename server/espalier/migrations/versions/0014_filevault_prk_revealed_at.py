"""enrolled devices: filevault_prk_revealed_at (a revealed PRK is rotated when rotation is on)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 22:30:00
"""
import sqlalchemy as sa
from alembic import op


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('enrolled_devices') as batch:
        batch.add_column(sa.Column('filevault_prk_revealed_at', sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('enrolled_devices') as batch:
        batch.drop_column('filevault_prk_revealed_at')
