"""FileVault and recovery password configurations, as Zentral's: a blueprint points at one of each.

A FileVault configuration makes the profile that turns FileVault on and escrows the
personal recovery key to the device's own escrow certificate (``mdm/filevault.py``); a
recovery password configuration sets the recovery lock (Apple silicon) or the firmware
password (Intel) and rotates it (``mdm/recovery_password.py``). The static password is a
secret: encrypted at rest, bound to its row.
"""
from __future__ import annotations

from sqlalchemy import String

from .base import Base, CreatedAt, IntPk, Mapped, Secret, UpdatedAt, mapped_column


class FileVaultConfig(Base):
    __tablename__ = "filevault_configs"

    id: Mapped[IntPk]
    name: Mapped[str] = mapped_column(String(256), unique=True)
    escrow_location_display_name: Mapped[str] = mapped_column(String(256))
    at_login_only: Mapped[bool] = mapped_column(default=False)
    bypass_attempts: Mapped[int] = mapped_column(default=-1)
    show_recovery_key: Mapped[bool] = mapped_column(default=False)
    destroy_key_on_standby: Mapped[bool] = mapped_column(default=False)
    prk_rotation_interval_days: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[UpdatedAt]


class RecoveryPasswordConfig(Base):
    __tablename__ = "recovery_password_configs"

    id: Mapped[IntPk]
    name: Mapped[str] = mapped_column(String(256), unique=True)
    dynamic_password: Mapped[bool] = mapped_column(default=True)
    static_password: Mapped[Secret]
    rotation_interval_days: Mapped[int] = mapped_column(default=0)
    rotate_firmware_password: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[UpdatedAt]
