"""What the operators see of convergence: a device's artifacts and DDM declaration status, a
version's counts by status."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from espalier.models import ArtifactVersion, DeviceArtifact, DeviceDeclaration
from espalier.models.base import utcnow
from espalier.models.blueprints import STATUSES
from espalier.services import paging
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


def list_device_artifacts(s: Session, *, status: str | None = None, artifact_id: str | None = None,
                          device_id: int | None = None, stale_for: int | None = None, limit: int | None = None,
                          offset: int = 0, counts: paging.CountCache | None = None
                          ) -> tuple[list[DeviceArtifact], int | None]:
    """Fleet-wide artifact rows, oldest change first; ``stale_for``: unchanged for that many seconds
    (a version pending for an hour is one the device has not taken)."""
    stmt = select(DeviceArtifact)
    if status:
        stmt = stmt.where(DeviceArtifact.status == status)
    if artifact_id:
        stmt = stmt.where(DeviceArtifact.artifact_id == artifact_id)
    if device_id is not None:
        stmt = stmt.where(DeviceArtifact.enrolled_device_id == device_id)
    if stale_for:
        stmt = stmt.where(DeviceArtifact.updated_at <= utcnow() - timedelta(seconds=stale_for))
    ordered = stmt.order_by(DeviceArtifact.updated_at, DeviceArtifact.id)
    if limit is None:
        return list(s.scalars(ordered)), None
    rows = list(s.scalars(ordered.limit(limit + 1).offset(offset)))
    return paging.page(rows, limit, offset, lambda: s.scalar(select(func.count()).select_from(stmt.subquery())),
                       counts, ("device_artifacts", status, artifact_id, device_id, stale_for))


def device_declarations(s: Session, device_id: int) -> list[DeviceDeclaration]:
    """What the device last reported of each declaration."""
    return list(s.scalars(select(DeviceDeclaration).where(DeviceDeclaration.enrolled_device_id == device_id)
                          .order_by(DeviceDeclaration.kind, DeviceDeclaration.identifier)))
