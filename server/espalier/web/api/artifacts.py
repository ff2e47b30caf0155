"""/api/mdm/artifacts/ and /api/mdm/profiles/ (profile versions of an artifact)."""
from __future__ import annotations

from espalier.models.blueprints import STATUSES
from espalier.services import artifacts as svc
from espalier.services import convergence_status
from espalier.validation import choice, integer, uuid_pk
from espalier.web import runtime

from . import operation, refusal
from .pagination import NameQuery, PageQuery, paginate_list, paginated
from .schemas import (Artifact, ArtifactIn, ArtifactVersionStatus, DeviceArtifact, ProfileIn, ProfileOut, artifact, dump,
                      profile)


@operation("GET", "/mdm/artifacts/", "mdm.view_artifact", query=NameQuery, response=[Artifact], paginated=True)
def artifact_list(s, query: NameQuery):
    """Artifacts; filter ``name``."""
    return paginate_list([artifact(a) for a in svc.list_artifacts(s, query.name or None)], query), 200


@operation("POST", "/mdm/artifacts/", "mdm.add_artifact", body=ArtifactIn, response=Artifact, status=201)
def artifact_create(s, body: ArtifactIn):
    """Create an artifact (type Profile)."""
    return artifact(svc.save_artifact(s, runtime(), body.model_dump(exclude_unset=True))), 201


@operation("GET", "/mdm/artifacts/<uuid:artifact_id>/", "mdm.view_artifact", response=Artifact)
def artifact_detail(s, artifact_id):
    """One artifact."""
    return artifact(svc.get_artifact(s, str(artifact_id))), 200


@operation("PUT", "/mdm/artifacts/<uuid:artifact_id>/", "mdm.change_artifact", body=ArtifactIn, response=Artifact)
def artifact_update(s, artifact_id, body: ArtifactIn):
    """Update an artifact; the devices concerned are pushed."""
    return artifact(svc.save_artifact(s, runtime(), body.model_dump(exclude_unset=True), str(artifact_id))), 200


@operation("DELETE", "/mdm/artifacts/<uuid:artifact_id>/", "mdm.delete_artifact", status=204,
           extra={"responses": refusal("a blueprint lists the artifact, or a device has it")})
def artifact_delete(s, artifact_id):
    """Delete an artifact no blueprint lists and no device has."""
    svc.delete_artifact(s, str(artifact_id))
    return None, 204


@operation("GET", "/mdm/profiles/", "mdm.view_profile", query=PageQuery, response=[ProfileOut], paginated=True)
def profile_list(s, query: PageQuery):
    """Profile versions."""
    box = runtime().secrets
    return paginate_list([profile(p, svc.profile_source(box, p)) for p in svc.list_profiles(s)], query), 200


@operation("POST", "/mdm/profiles/", "mdm.add_profile", body=ProfileIn, response=ProfileOut, status=201)
def profile_create(s, body: ProfileIn):
    """A new profile version of an artifact; the devices concerned are pushed."""
    p = svc.save_profile(s, runtime(), body.model_dump())
    return profile(p, svc.profile_source(runtime().secrets, p)), 201


@operation("GET", "/mdm/profiles/<uuid:version_id>/", "mdm.view_profile", response=ProfileOut)
def profile_detail(s, version_id):
    """One profile version (``id`` is the artifact version's)."""
    p = svc.get_profile(s, str(version_id))
    return profile(p, svc.profile_source(runtime().secrets, p)), 200


@operation("PUT", "/mdm/profiles/<uuid:version_id>/", "mdm.change_profile", body=ProfileIn, response=ProfileOut)
def profile_update(s, version_id, body: ProfileIn):
    """Update a profile version; a new source is installed again on the devices that have it."""
    p = svc.save_profile(s, runtime(), body.model_dump(), str(version_id))
    return profile(p, svc.profile_source(runtime().secrets, p)), 200


@operation("DELETE", "/mdm/profiles/<uuid:version_id>/", "mdm.delete_profile", status=204,
           extra={"responses": refusal("a device has this version, or a command for it is pending")})
def profile_delete(s, version_id):
    """Delete a profile version no device has."""
    svc.delete_profile(s, runtime(), str(version_id))
    return None, 204


@operation("GET", "/mdm/artifact_versions/<uuid:version_id>/status/", "mdm.view_deviceartifact",
           response=ArtifactVersionStatus)
def artifact_version_status(s, version_id):
    """How many devices have this version pending, installed, failed or removed. Espalier's own route."""
    return convergence_status.version_summary(s, str(version_id)), 200


class DeviceArtifactQuery(PageQuery):
    status: choice(*STATUSES) = None
    artifact: uuid_pk() = None
    enrolled_device: integer(1) = None
    stale_for: integer(1) = None


@operation("GET", "/mdm/device_artifacts/", "mdm.view_deviceartifact", query=DeviceArtifactQuery,
           response=[DeviceArtifact], paginated=True)
def device_artifact_fleet_list(s, query: DeviceArtifactQuery):
    """The artifact rows of every device, oldest change first; filters ``status``, ``artifact``,
    ``enrolled_device`` and ``stale_for`` (seconds without a change: what is pending for too long).
    Espalier's own route."""
    items, count = convergence_status.list_device_artifacts(
        s, status=query.status, artifact_id=query.artifact, device_id=query.enrolled_device,
        stale_for=query.stale_for, limit=query.limit, offset=query.offset or 0, counts=runtime().counts)
    return paginated([dump(DeviceArtifact, a) for a in items], count, query.limit, query.offset), 200
