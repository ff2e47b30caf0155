"""The command queue. A row is the unit of delivery to a device (or one of its user channels).

``status`` is NULL while pending, ``NotNow`` while the device deferred it, then a final
``Acknowledged``, ``Error`` or ``CommandFormatError``; it only moves forward. The partial
index covers exactly the rows the next-command query reads, so acknowledged history does
not slow the hot path.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, and_, or_
from sqlalchemy.ext.hybrid import hybrid_property

from .base import Base, CreatedAt, IntPk, JsonValue, Mapped, Secret, UpdatedAt, UuidStr, mapped_column

# Canceled: an operator withdrew it before the device fetched it (it is never sent).
FINAL_STATUSES = ("Acknowledged", "Error", "CommandFormatError", "Canceled")
REPORT_STATUSES = ("Acknowledged", "Error", "CommandFormatError", "NotNow")


class DeviceCommand(Base):
    __tablename__ = "device_commands"
    __secret_binding__ = "uuid"  # arguments are sealed before the INSERT (one statement per command)

    id: Mapped[IntPk]
    uuid: Mapped[UuidStr] = mapped_column(unique=True)
    enrolled_device_id: Mapped[int] = mapped_column(ForeignKey("enrolled_devices.id", ondelete="CASCADE"))
    enrolled_user_id: Mapped[int | None] = mapped_column(ForeignKey("enrolled_users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))  # the RequestType
    arguments: Mapped[Secret]  # encrypted JSON: PINs and passwords travel here
    # HMAC of the RequestType and its arguments: "the same request" without revealing them
    request_hash: Mapped[str | None] = mapped_column(String(64))
    artifact_version: Mapped[str | None] = mapped_column(String(64))
    artifact_operation: Mapped[str | None] = mapped_column(String(32))
    not_before: Mapped[datetime | None]
    time: Mapped[datetime | None]  # last delivery to the device
    result: Mapped[JsonValue]
    result_time: Mapped[datetime | None]
    status: Mapped[str | None] = mapped_column(String(32))
    error_chain: Mapped[JsonValue]
    notnow_count: Mapped[int] = mapped_column(default=0)
    notnow_at: Mapped[datetime | None]  # last NotNow report
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[UpdatedAt]

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    @hybrid_property
    def is_pending(self) -> bool:
        """Not answered yet (never delivered, in flight, or deferred with NotNow)."""
        return self.status is None or self.status == "NotNow"

    @is_pending.inplace.expression
    @classmethod
    def _is_pending_expression(cls):
        return or_(cls.status.is_(None), cls.status == "NotNow")


Index("ix_device_commands_pending", DeviceCommand.enrolled_device_id, DeviceCommand.enrolled_user_id,
      DeviceCommand.created_at,
      postgresql_where=DeviceCommand.is_pending, sqlite_where=DeviceCommand.is_pending)
Index("ix_device_commands_device_created", DeviceCommand.enrolled_device_id, DeviceCommand.created_at)
# Convergence queues one command per device and artifact version at a time (the device row
# lock orders it); the database holds it to that too.
Index("uq_device_commands_pending_artifact", DeviceCommand.enrolled_device_id, DeviceCommand.artifact_version,
      unique=True, postgresql_where=and_(DeviceCommand.is_pending, DeviceCommand.artifact_version.is_not(None)),
      sqlite_where=and_(DeviceCommand.is_pending, DeviceCommand.artifact_version.is_not(None)))
Index("ix_device_commands_device_request", DeviceCommand.enrolled_device_id, DeviceCommand.request_hash)
