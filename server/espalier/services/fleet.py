"""What the console shows of the fleet: aggregate counts in a few grouped queries, and device
pages by keyset (``id > after``), which cost the same on page 1 and page 2,000."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from espalier.models import DeviceCommand, EnrolledDevice, PushCertificate, TaskResult, utcnow

ERROR_STATUSES = ("Error", "CommandFormatError")
LAST_SEEN_BUCKETS = (("< 1 hour", timedelta(hours=1)), ("< 1 day", timedelta(days=1)),
                     ("< 7 days", timedelta(days=7)), ("< 30 days", timedelta(days=30)))


@dataclass
class Overview:
    total: int
    by_platform: list[tuple[str, int]]
    by_os_version: list[tuple[str, int]]  # "macOS 14.2.1"
    last_seen: list[tuple[str, int]]
    filevault: dict[str, int]  # on / off / unknown
    supervised: dict[str, int]
    blocked: int
    commands_in_error: int
    recent_errors: list[DeviceCommand]


def overview(s: Session) -> Overview:
    now = utcnow()
    rows = s.execute(select(EnrolledDevice.platform, EnrolledDevice.os_version, func.count())
                     .group_by(EnrolledDevice.platform, EnrolledDevice.os_version)).all()
    by_platform: dict[str, int] = {}
    by_os: dict[str, int] = {}
    for platform, version, n in rows:
        by_platform[platform or "unknown"] = by_platform.get(platform or "unknown", 0) + n
        by_os[f"{platform or '?'} {version or '?'}"] = n
    seen = case(*[(EnrolledDevice.last_seen_at >= now - age, label) for label, age in LAST_SEEN_BUCKETS],
                (EnrolledDevice.last_seen_at.is_(None), "never"), else_="older")
    seen_counts = dict(s.execute(select(seen, func.count()).group_by(seen)).all())
    last_seen = [(label, seen_counts.get(label, 0)) for label, _ in LAST_SEEN_BUCKETS]
    last_seen += [("older", seen_counts.get("older", 0)), ("never", seen_counts.get("never", 0))]

    def tri(column) -> dict[str, int]:
        label = case((column.is_(True), "yes"), (column.is_(False), "no"), else_="unknown")
        return {"yes": 0, "no": 0, "unknown": 0} | dict(s.execute(select(label, func.count()).group_by(label)).all())

    errors = DeviceCommand.status.in_(ERROR_STATUSES)
    return Overview(
        total=sum(by_platform.values()),
        by_platform=sorted(by_platform.items(), key=lambda kv: -kv[1]),
        by_os_version=sorted(by_os.items(), key=lambda kv: -kv[1])[:20],
        last_seen=last_seen,
        filevault=tri(EnrolledDevice.filevault_enabled),
        supervised=tri(EnrolledDevice.supervised),
        blocked=s.scalar(select(func.count()).where(EnrolledDevice.is_blocked)) or 0,
        commands_in_error=s.scalar(select(func.count()).select_from(DeviceCommand).where(errors)) or 0,
        recent_errors=list(s.scalars(select(DeviceCommand).where(errors)
                                     .order_by(DeviceCommand.id.desc()).limit(10))),
    )


def device_page(s: Session, q: str | None = None, after: int = 0, size: int = 50
                ) -> tuple[list[EnrolledDevice], int | None]:
    """Devices with ``id > after`` (and matching ``q``: serial number or UDID exactly, or the
    name's beginning), in id order; the second value is the ``after`` of the next page."""
    stmt = select(EnrolledDevice).where(EnrolledDevice.id > after)
    if q:
        exact = list(s.scalars(stmt.where(or_(EnrolledDevice.serial_number == q,
                                              EnrolledDevice.udid.in_({q, q.upper()}))).limit(size)))
        if exact:  # a serial number or UDID: two index lookups, no scan
            return exact, None
        stmt = stmt.where(EnrolledDevice.name.startswith(q, autoescape=True))
    rows = list(s.scalars(stmt.order_by(EnrolledDevice.id).limit(size + 1)))
    return rows[:size], (rows[size - 1].id if len(rows) > size else None)


def push_certificates(s: Session) -> list[PushCertificate]:
    return list(s.scalars(select(PushCertificate).order_by(PushCertificate.not_after)))


def recent_tasks(s: Session, limit: int = 50) -> list[TaskResult]:
    return list(s.scalars(select(TaskResult).order_by(TaskResult.created_at.desc()).limit(limit)))
