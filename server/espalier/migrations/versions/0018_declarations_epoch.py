"""enrolled devices: declarations_epoch and declarations_epoch_on (the DDM step's mark)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 22:40:00
"""
import sqlalchemy as sa
from alembic import op


revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('enrolled_devices') as batch:
        batch.add_column(sa.Column('declarations_epoch', sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column('declarations_epoch_on', sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('enrolled_devices') as batch:
        batch.drop_column('declarations_epoch_on')
        batch.drop_column('declarations_epoch')
