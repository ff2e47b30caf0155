"""device artifacts: an index for the fleet-wide list by status (failed, pending for too long)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 07:00:00
"""
from alembic import op


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_device_artifacts_status', 'device_artifacts', ['status', 'updated_at'])


def downgrade() -> None:
    op.drop_index('ix_device_artifacts_status', table_name='device_artifacts')
