"""Declaration versions of declaration artifacts (Activation, Asset, Configuration, Management).

A declaration is stored as sent, without any ``ServerToken`` (the server computes it: a
keyed hash of the content, so it changes exactly when the content does), encrypted at rest.
The ``Type`` must be of the artifact's kind (``com.apple.configuration.*`` for a
Configuration artifact); the ``Identifier`` (at most 64 octets) is one artifact's: versions
of an artifact share it, two artifacts never do, and ``espalier.`` is the server's own. A new
content under the same version number resets that version on every device (pending until
the device reports it); devices concerned are pushed, and sync at their next connect.
"""
from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import exists, or_, select, update
from sqlalchemy.orm import Session

from espalier.mdm import ddm
from espalier.models import ArtifactVersion, BlueprintArtifact, Declaration, DeviceArtifact
from espalier.models.blueprints import DECLARATION_KINDS
from espalier.services import fanout
from espalier.services.artifacts import FILTER_FIELDS, version_artifact
from espalier.services.errors import NotFound, ServiceError

MAX_SOURCE = 1024 * 1024  # bytes of the declaration as JSON
_TYPE = re.compile(r"com\.apple\.[a-z]+(\.[A-Za-z0-9-]+)+")


def _invalid(errors: dict | list) -> ServiceError:
    return ServiceError("invalid input", errors)


def declaration_info(source: dict[str, Any], kind: str) -> dict[str, Any]:
    """What is stored of a declaration; ``source`` field errors when it is not one of ``kind``."""
    def refuse(text: str):
        raise _invalid({"source": [text]})

    stored = {k: v for k, v in source.items() if k != "ServerToken"}
    dtype, identifier, payload = stored.get("Type"), stored.get("Identifier"), stored.get("Payload")
    if not isinstance(dtype, str) or not _TYPE.fullmatch(dtype) or len(dtype) > 256:
        refuse("Type must be a declaration type (com.apple.<kind>.<name>).")
    if ddm.kind_of(dtype) != kind:
        refuse(f"Type must be a com.apple.{kind}.* declaration for this artifact.")
    if not isinstance(identifier, str) or not identifier.strip() or identifier != identifier.strip():
        refuse("Identifier must be a non-empty string without surrounding spaces.")
    if ddm.octets(identifier) > ddm.MAX_OCTETS:
        refuse(f"Identifier must be at most {ddm.MAX_OCTETS} octets.")
    if identifier.startswith(ddm.RESERVED_PREFIX):
        refuse(f"Identifiers starting with {ddm.RESERVED_PREFIX!r} are the server's.")
    if not isinstance(payload, dict):
        refuse("Payload must be an object.")
    text = json.dumps(stored, sort_keys=True, separators=(",", ":"))
    if len(text.encode()) > MAX_SOURCE:
        refuse(f"Ensure this declaration has no more than {MAX_SOURCE} bytes.")
    if "\\u0000" in text:
        refuse("Null characters are not allowed.")
    return {"type": dtype, "identifier": identifier, "text": text}


def get_declaration(s: Session, version_id: str) -> Declaration:
    declaration = s.scalar(select(Declaration).where(Declaration.artifact_version_id == version_id))
    if declaration is None:
        raise NotFound("No Declaration matches the given query.")
    return declaration


def list_declarations(s: Session) -> list[Declaration]:
    return list(s.scalars(select(Declaration).join(Declaration.artifact_version)
                          .order_by(ArtifactVersion.created_at, ArtifactVersion.id)))


def declaration_source(box, declaration: Declaration) -> dict:
    return json.loads(box.open_str(declaration, "source") or "{}")


def save_declaration(s: Session, rt, data: dict[str, Any], version_id: str | None = None) -> Declaration:
    declaration = get_declaration(s, version_id) if version_id else None
    with s.no_autoflush:
        artifact = version_artifact(s, data, declaration.artifact_version_id if declaration is not None else None)
        if artifact.type not in DECLARATION_KINDS:
            raise _invalid({"artifact": ["Not a declaration artifact"]})
        if artifact.channel != "Device":
            raise _invalid({"artifact": ["Declarations are sent on the device channel only"]})
        info = declaration_info(data["source"], DECLARATION_KINDS[artifact.type])
        if s.scalar(select(Declaration.id).join(Declaration.artifact_version).where(
                Declaration.identifier == info["identifier"], ArtifactVersion.artifact_id != artifact.id)):
            raise _invalid({"source": ["A declaration of another artifact has this Identifier."]})
    server_token = rt.secrets.fingerprint(info["text"], "declarations.server_token")
    if declaration is None:
        version = ArtifactVersion(artifact_id=artifact.id, version=data["version"])
        s.add(version)
        s.flush()
        declaration = Declaration(artifact_version_id=version.id)
        s.add(declaration)
        changed = False
    else:
        version = declaration.artifact_version
        changed = declaration.server_token != server_token or version.artifact_id != artifact.id
    old_artifact = version.artifact_id
    version.artifact_id, version.version = artifact.id, data["version"]
    for field in FILTER_FIELDS:
        setattr(version, field, data[field])
    declaration.type, declaration.identifier, declaration.server_token = (info["type"], info["identifier"],
                                                                          server_token)
    s.flush()
    rt.secrets.seal(declaration, "source", info["text"])
    if old_artifact != artifact.id:
        s.execute(update(DeviceArtifact).where(DeviceArtifact.artifact_version_id == version.id)
                  .values(artifact_id=artifact.id))
    if changed:  # the devices that have it report the new content: pending until then
        s.execute(update(DeviceArtifact).where(DeviceArtifact.artifact_version_id == version.id,
                                               DeviceArtifact.status != "removed")
                  .values(status="pending", error_chain=None))
    s.flush()
    fanout.push_artifact_devices(s, rt, sorted({artifact.id, old_artifact}))
    return declaration


def delete_declaration(s: Session, rt, version_id: str) -> None:
    declaration = get_declaration(s, version_id)
    version = declaration.artifact_version
    if s.scalar(select(exists().where(DeviceArtifact.artifact_version_id == version.id,
                                      DeviceArtifact.status != "removed"))):
        raise _invalid(["This declaration cannot be deleted"])
    artifact_id = version.artifact_id
    s.delete(declaration)
    s.delete(version)
    s.flush()
    fanout.push_artifact_devices(s, rt, [artifact_id])


def recount(s: Session, *, blueprint_ids: list[int] = (), artifact_ids: list[str] = ()) -> None:
    """Keep ``Blueprint.declaration_count`` true after a change to these blueprints' items or
    to these artifacts (their blueprints are found here)."""
    ids = set(blueprint_ids)
    if artifact_ids:
        ids |= set(s.scalars(select(BlueprintArtifact.blueprint_id).where(or_(
            BlueprintArtifact.artifact_id.in_(list(artifact_ids))))))
    ddm.recount_blueprints(s, sorted(i for i in ids if i))
