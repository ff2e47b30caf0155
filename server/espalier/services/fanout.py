"""Waking the devices a blueprint or artifact change concerns, in batches of push jobs.

Offline devices (or NotNow ones) converge at their next contact: convergence runs on
every connect, the push only makes it sooner.
"""
from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from espalier.models import BlueprintArtifact, DeviceArtifact, EnrolledDevice
from espalier.tasks import push

BATCH = 1000


def _push(s: Session, rt, stmt) -> int:
    ids = list(s.scalars(stmt.where(EnrolledDevice.pushable).order_by(EnrolledDevice.id)))
    for start in range(0, len(ids), BATCH):
        push.notify_after_commit(s, rt.queue, ids[start:start + BATCH])
    return len(ids)


def push_blueprint_devices(s: Session, rt, blueprint_ids: list[int]) -> int:
    return _push(s, rt, select(EnrolledDevice.id).where(EnrolledDevice.blueprint_id.in_(blueprint_ids)))


def push_artifact_devices(s: Session, rt, artifact_ids: list[str]) -> int:
    """Devices on a blueprint with one of the artifacts, or that have (had) one installed."""
    on_blueprint = select(BlueprintArtifact.blueprint_id).where(BlueprintArtifact.artifact_id.in_(artifact_ids))
    holding = select(DeviceArtifact.enrolled_device_id).where(DeviceArtifact.artifact_id.in_(artifact_ids),
                                                              DeviceArtifact.status != "removed")
    return _push(s, rt, select(EnrolledDevice.id).where(or_(EnrolledDevice.blueprint_id.in_(on_blueprint),
                                                            EnrolledDevice.id.in_(holding))))


def push_blueprint_artifact_devices(s: Session, rt, blueprint_ids: list[int], artifact_ids: list[str]) -> int:
    """Devices on the blueprints, or that have (had) one of the artifacts installed."""
    holding = select(DeviceArtifact.enrolled_device_id).where(DeviceArtifact.artifact_id.in_(artifact_ids),
                                                              DeviceArtifact.status != "removed")
    return _push(s, rt, select(EnrolledDevice.id).where(or_(EnrolledDevice.blueprint_id.in_(blueprint_ids),
                                                            EnrolledDevice.id.in_(holding))))


def push_devices(s: Session, rt, device_ids: list[int]) -> int:
    return _push(s, rt, select(EnrolledDevice.id).where(EnrolledDevice.id.in_(device_ids)))


def push_serials(s: Session, rt, serial_numbers: list[str]) -> int:
    if not serial_numbers:
        return 0
    return _push(s, rt, select(EnrolledDevice.id).where(EnrolledDevice.serial_number.in_(sorted(set(serial_numbers)))))
