"""/api/mdm/blueprints/ and /api/mdm/blueprint_artifacts/."""
from __future__ import annotations

from espalier.services import blueprints as svc
from espalier.web import runtime

from . import operation, refusal
from .pagination import NameQuery, PageQuery, paginate_list
from .schemas import Blueprint, BlueprintArtifact, BlueprintArtifactIn, BlueprintIn, blueprint_artifact, dump


def _blueprints(s, blueprints: list) -> list[dict]:
    enforcements = svc.enforcement_ids(s, blueprints)
    return [dump(Blueprint, b, software_update_enforcements=enforcements.get(b.id, [])) for b in blueprints]


@operation("GET", "/mdm/blueprints/", "mdm.view_blueprint", query=NameQuery, response=[Blueprint], paginated=True)
def blueprint_list(s, query: NameQuery):
    """Blueprints; filter ``name``."""
    return paginate_list(_blueprints(s, svc.list_all(s, query.name or None)), query), 200


@operation("POST", "/mdm/blueprints/", "mdm.add_blueprint", body=BlueprintIn, response=Blueprint, status=201)
def blueprint_create(s, body: BlueprintIn):
    """Create a blueprint."""
    return _blueprints(s, [svc.save(s, runtime(), body.model_dump(exclude_unset=True))])[0], 201


@operation("GET", "/mdm/blueprints/<int:blueprint_id>/", "mdm.view_blueprint", response=Blueprint)
def blueprint_detail(s, blueprint_id: int):
    """One blueprint."""
    return _blueprints(s, [svc.get(s, blueprint_id)])[0], 200


@operation("PUT", "/mdm/blueprints/<int:blueprint_id>/", "mdm.change_blueprint", body=BlueprintIn, response=Blueprint)
def blueprint_update(s, blueprint_id: int, body: BlueprintIn):
    """Update a blueprint (``software_update_enforcements``: the list replaces the blueprint's)."""
    return _blueprints(s, [svc.save(s, runtime(), body.model_dump(exclude_unset=True), blueprint_id)])[0], 200


@operation("DELETE", "/mdm/blueprints/<int:blueprint_id>/", "mdm.delete_blueprint", status=204,
           extra={"responses": refusal("an enrollment or an enrolled device uses the blueprint")})
def blueprint_delete(s, blueprint_id: int):
    """Delete a blueprint that no enrollment and no enrolled device uses."""
    svc.delete(s, blueprint_id)
    return None, 204


@operation("GET", "/mdm/blueprint_artifacts/", "mdm.view_blueprintartifact", query=PageQuery,
           response=[BlueprintArtifact], paginated=True)
def blueprint_artifact_list(s, query: PageQuery):
    """Blueprint artifacts."""
    return paginate_list([blueprint_artifact(i) for i in svc.list_items(s)], query), 200


@operation("POST", "/mdm/blueprint_artifacts/", "mdm.add_blueprintartifact", body=BlueprintArtifactIn,
           response=BlueprintArtifact, status=201)
def blueprint_artifact_create(s, body: BlueprintArtifactIn):
    """Add an artifact to a blueprint; the blueprint's devices are pushed."""
    return blueprint_artifact(svc.save_item(s, runtime(), body.model_dump())), 201


@operation("GET", "/mdm/blueprint_artifacts/<int:item_id>/", "mdm.view_blueprintartifact",
           response=BlueprintArtifact)
def blueprint_artifact_detail(s, item_id: int):
    """One blueprint artifact."""
    return blueprint_artifact(svc.get_item(s, item_id)), 200


@operation("PUT", "/mdm/blueprint_artifacts/<int:item_id>/", "mdm.change_blueprintartifact",
           body=BlueprintArtifactIn, response=BlueprintArtifact)
def blueprint_artifact_update(s, item_id: int, body: BlueprintArtifactIn):
    """Update a blueprint artifact; the devices concerned are pushed."""
    return blueprint_artifact(svc.save_item(s, runtime(), body.model_dump(), item_id)), 200


@operation("DELETE", "/mdm/blueprint_artifacts/<int:item_id>/", "mdm.delete_blueprintartifact", status=204)
def blueprint_artifact_delete(s, item_id: int):
    """Remove an artifact from a blueprint: its devices remove the profiles we installed."""
    svc.delete_item(s, runtime(), item_id)
    return None, 204
