"""What a device reported of Declarative Device Management: one row per declaration it knows
(the last status report's ``management.declarations`` entries), and its last StatusItems."""
from __future__ import annotations

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint

from .base import Base, IntPk, JsonValue, Mapped, UpdatedAt, mapped_column


class DeviceDeclaration(Base):
    __tablename__ = "device_declarations"
    __table_args__ = (UniqueConstraint("enrolled_device_id", "identifier"),)

    id: Mapped[IntPk]
    enrolled_device_id: Mapped[int] = mapped_column(ForeignKey("enrolled_devices.id", ondelete="CASCADE"))
    identifier: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # activation | configuration | asset | management
    server_token: Mapped[str] = mapped_column(String(64), default="")
    valid: Mapped[str] = mapped_column(String(16), default="unknown")  # valid | invalid | unknown
    active: Mapped[bool] = mapped_column(default=False)
    reasons: Mapped[JsonValue]
    updated_at: Mapped[UpdatedAt]


class DeclarativeReport(Base):
    """The device's last StatusItems (partial reports merged in) and Errors."""

    __tablename__ = "declarative_reports"

    enrolled_device_id: Mapped[int] = mapped_column(ForeignKey("enrolled_devices.id", ondelete="CASCADE"),
                                                    primary_key=True)
    status_items: Mapped[dict] = mapped_column(JSON, default=dict)
    errors: Mapped[JsonValue]
    updated_at: Mapped[UpdatedAt]
