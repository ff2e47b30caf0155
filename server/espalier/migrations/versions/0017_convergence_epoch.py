"""convergence epoch: convergence_epoch (one row) and enrolled_devices.converged_epoch

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 22:10:00
"""
import sqlalchemy as sa
from alembic import op


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    epoch = op.create_table('convergence_epoch',
                            sa.Column('id', sa.Integer(), nullable=False),
                            sa.Column('value', sa.BigInteger(), nullable=False),
                            sa.PrimaryKeyConstraint('id', name=op.f('pk_convergence_epoch')))
    op.bulk_insert(epoch, [{'id': 1, 'value': 0}])
    with op.batch_alter_table('enrolled_devices') as batch:
        batch.add_column(sa.Column('converged_epoch', sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('enrolled_devices') as batch:
        batch.drop_column('converged_epoch')
    op.drop_table('convergence_epoch')
