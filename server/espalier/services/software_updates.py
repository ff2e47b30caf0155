"""The software update catalogue: the feed's entries kept in ``software_updates`` (sync), and
listed for operators. The feed is read by ``apple/gdmf``; the job is ``tasks/software_updates``.

A sync is Zentral's: an entry is identified by all its attributes (one that changes is a new
row, the old one deleted), its device ids follow the feed, and entries gone from the feed
are deleted. Counts: ``created``, ``present``, ``deleted``.
"""
from __future__ import annotations

from collections import defaultdict

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from espalier.models import SoftwareUpdate, SoftwareUpdateDeviceID

_FIELDS = ("platform", "major", "minor", "patch", "extra", "prerequisite_build", "build", "public", "posting_date",
           "expiration_date")


def _key(su: SoftwareUpdate) -> tuple:
    return tuple(getattr(su, f) for f in _FIELDS)


def sync(s: Session, entries: list) -> dict:
    """Make the table the feed's ``entries`` (``apple.gdmf.Entry``: the fields, ``key``,
    ``device_ids``); the counts. The caller commits."""
    existing = {}
    for su in s.scalars(select(SoftwareUpdate).with_for_update()):
        if _key(su) in existing:  # a twin left by a concurrent sync: one is enough
            s.delete(su)
        else:
            existing[_key(su)] = su
    device_ids = defaultdict(set)
    for su_id, device_id in s.execute(select(SoftwareUpdateDeviceID.software_update_id,
                                             SoftwareUpdateDeviceID.device_id)):
        device_ids[su_id].add(device_id)
    result = {"created": 0, "deleted": 0, "present": 0}
    seen = set()
    for entry in entries:
        seen.add(entry.key)
        su = existing.get(entry.key)
        if su is None:
            su = SoftwareUpdate(**{f: getattr(entry, f) for f in _FIELDS})
            s.add(su)
            s.flush()
            result["created"] += 1
        else:
            result["present"] += 1
        have = device_ids.get(su.id, set())
        s.add_all(SoftwareUpdateDeviceID(software_update_id=su.id, device_id=d) for d in sorted(entry.device_ids - have))
        gone = have - entry.device_ids
        if gone:
            s.execute(delete(SoftwareUpdateDeviceID).where(SoftwareUpdateDeviceID.software_update_id == su.id,
                                                           SoftwareUpdateDeviceID.device_id.in_(sorted(gone))))
    for key, su in existing.items():
        if key not in seen:
            s.delete(su)
            result["deleted"] += 1
    s.flush()
    return result


def list_all(s: Session, platform: str | None = None) -> list[tuple[SoftwareUpdate, list[str]]]:
    """The catalogue, newest first, each entry with its device ids."""
    stmt = select(SoftwareUpdate).order_by(SoftwareUpdate.platform, SoftwareUpdate.major.desc(),
                                           SoftwareUpdate.minor.desc(), SoftwareUpdate.patch.desc(),
                                           SoftwareUpdate.extra.desc(), SoftwareUpdate.public, SoftwareUpdate.id)
    if platform:
        stmt = stmt.where(SoftwareUpdate.platform == platform)
    updates = list(s.scalars(stmt))
    device_ids = defaultdict(list)
    if updates:
        for su_id, device_id in s.execute(
                select(SoftwareUpdateDeviceID.software_update_id, SoftwareUpdateDeviceID.device_id)
                .where(SoftwareUpdateDeviceID.software_update_id.in_([su.id for su in updates]))
                .order_by(SoftwareUpdateDeviceID.device_id)):
            device_ids[su_id].append(device_id)
    return [(su, device_ids[su.id]) for su in updates]
