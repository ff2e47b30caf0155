"""enrolled devices: a certificate fingerprint binds one device (unique index)

Two Authenticates at once could both pass the bound-elsewhere check and bind one certificate
to two UDIDs. Where that happened, the first device bound keeps the certificate; the others
lose their binding (their next message is refused, and they enroll again).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 15:10:00
"""
import sqlalchemy as sa
from alembic import op


revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(sa.text(
        "UPDATE enrolled_devices SET cert_fingerprint = NULL WHERE cert_fingerprint IS NOT NULL AND id > "
        "(SELECT MIN(d.id) FROM enrolled_devices d "
        "WHERE d.cert_fingerprint = enrolled_devices.cert_fingerprint)"))
    with op.batch_alter_table('enrolled_devices') as batch:
        batch.drop_index(batch.f('ix_enrolled_devices_cert_fingerprint'))
        batch.create_index(batch.f('ix_enrolled_devices_cert_fingerprint'), ['cert_fingerprint'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('enrolled_devices') as batch:
        batch.drop_index(batch.f('ix_enrolled_devices_cert_fingerprint'))
        batch.create_index(batch.f('ix_enrolled_devices_cert_fingerprint'), ['cert_fingerprint'], unique=False)
