"""Device licences for store apps: the ``LicenceRequest`` rows and what ends them.

The store app step queues a row (models/store_apps.py); ``tasks.licences`` sends the due
ones to Apple. An assignment arriving (an ASSET_MANAGEMENT notification or a sync) ends an
ASSOCIATE row and wakes the device, so that it installs at once; an assignment going ends a
DISASSOCIATE row. A failed event sends its rows again after a backoff, up to
``MAX_ATTEMPTS``; then an ASSOCIATE row fails the artifact on its device.
"""
from __future__ import annotations

import logging
from datetime import timedelta
from typing import Iterable

from sqlalchemy import delete, select, tuple_
from sqlalchemy.orm import Session

from espalier.models import ArtifactVersion, DeviceArtifact, LicenceRequest, LocationAsset, utcnow
from espalier.services import fanout

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
BACKOFF = timedelta(minutes=2)  # doubled at each attempt
REQUESTED_GIVE_UP = timedelta(days=2)  # an event Apple never ended: asked again
CHUNK = 500


def queue_requests(s: Session, rt, location_ids: Iterable[int]) -> None:
    """Send the due requests of these locations once ``s`` commits (jobs waiting together merge)."""
    from espalier.tasks.licences import send_licence_requests

    ids = sorted(set(location_ids))
    if ids:
        rt.queue.defer(s, send_licence_requests, ids, track=False, merge=True)


def _pairs_where(pairs: list[tuple[int, str]]):
    return tuple_(LicenceRequest.location_asset_id, LicenceRequest.serial_number).in_(pairs)


def assigned(s: Session, rt, pairs: Iterable[tuple[int, str]]) -> int:
    """(location asset id, serial) now licensed: their ASSOCIATE rows end, their devices are woken."""
    pairs = sorted(set(pairs))
    devices: list[int] = []
    for start in range(0, len(pairs), CHUNK):
        chunk = pairs[start:start + CHUNK]
        devices += [d for d in s.scalars(delete(LicenceRequest).where(
            LicenceRequest.kind == "ASSOCIATE", _pairs_where(chunk)).returning(LicenceRequest.enrolled_device_id))
            if d is not None]
    if devices and rt is not None:
        fanout.push_devices(s, rt, devices)
    return len(devices)


def unassigned(s: Session, pairs: Iterable[tuple[int, str]]) -> None:
    """(location asset id, serial) no longer licensed: their DISASSOCIATE rows end."""
    pairs = sorted(set(pairs))
    for start in range(0, len(pairs), CHUNK):
        s.execute(delete(LicenceRequest).where(LicenceRequest.kind == "DISASSOCIATE",
                                               _pairs_where(pairs[start:start + CHUNK])))


def retry_or_fail(s: Session, rows: list[LicenceRequest], error: str) -> None:
    """Rows whose request failed: queued again after a backoff, failed after ``MAX_ATTEMPTS``."""
    now = utcnow()
    for row in rows:
        row.attempts += 1
        row.error, row.event_id = error[:1000], None
        if row.attempts < MAX_ATTEMPTS:
            row.status, row.next_attempt_at = "queued", now + BACKOFF * 2 ** (row.attempts - 1)
            continue
        row.status = "failed"
        log.warning("licence %s of location asset %s for %s failed %d times: %s", row.kind, row.location_asset_id,
                    row.serial_number, row.attempts, error[:200])
        if row.kind == "ASSOCIATE" and row.enrolled_device_id and row.artifact_version_id:
            _fail_artifact(s, row, error)


def _fail_artifact(s: Session, row: LicenceRequest, error: str) -> None:
    artifact = s.scalar(select(DeviceArtifact).where(DeviceArtifact.enrolled_device_id == row.enrolled_device_id,
                                                     DeviceArtifact.artifact_version_id == row.artifact_version_id))
    if artifact is None:
        artifact_id = s.scalar(select(ArtifactVersion.artifact_id).where(ArtifactVersion.id == row.artifact_version_id))
        if artifact_id is None:
            return
        artifact = DeviceArtifact(enrolled_device_id=row.enrolled_device_id, artifact_id=artifact_id,
                                  artifact_version_id=row.artifact_version_id)
        s.add(artifact)
    artifact.status, artifact.operation, artifact.command_uuid = "failed", "Installation", None
    artifact.error_chain = [{"ErrorDomain": "Espalier.AppsAndBooks",
                             "LocalizedDescription": f"No licence from Apps and Books: {error}"[:500]}]


def event_failed(s: Session, location_id: int, event_id: str, failures) -> int:
    """An associate/disassociate event Apple ended FAILED: its rows are retried or fail."""
    rows = list(s.scalars(select(LicenceRequest).join(LocationAsset, LocationAsset.id == LicenceRequest.location_asset_id)
                          .where(LocationAsset.location_id == location_id, LicenceRequest.event_id == event_id,
                                 LicenceRequest.status == "requested").with_for_update()))
    text = "; ".join(str(f.get("errorMessage") or f.get("errorNumber") or f)[:200]
                     for f in (failures or []) if isinstance(f, dict))[:1000] or "the event failed"
    retry_or_fail(s, rows, text)
    return len(rows)
