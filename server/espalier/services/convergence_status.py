"""What the operators see of convergence: a device's artifacts, a version's counts by status."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from espalier.models import ArtifactVersion, DeviceArtifact
from espalier.models.blueprints import STATUSES
from espalier.services.errors import NotFound


def device_artifacts(s: Session, device_id: int) -> list[DeviceArtifact]:
    return list(s.scalars(select(DeviceArtifact).where(DeviceArtifact.enrolled_device_id == device_id)
                          .order_by(DeviceArtifact.updated_at.desc(), DeviceArtifact.id.desc())))


def version_summary(s: Session, version_id: str) -> dict:
    if s.get(ArtifactVersion, version_id) is None:
        raise NotFound("No ArtifactVersion matches the given query.")
    counts = dict.fromkeys(STATUSES, 0)
    counts.update(s.execute(select(DeviceArtifact.status, func.count()).where(
        DeviceArtifact.artifact_version_id == version_id).group_by(DeviceArtifact.status)).all())
    return {"artifact_version": version_id, "counts": counts}
