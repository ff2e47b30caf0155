"""Store app versions of Store App artifacts: an App Store app (a location's asset) and how
InstallApplication installs it.

The managed app configuration is a plist dictionary kept as text (encrypted: it carries
credentials) and sent as a dictionary. A change to what InstallApplication carries
installs the version again where it is (Apple applies the new options to the installed
app); a new version number is a new version, and devices move to the newest in scope.
"""
from __future__ import annotations

import plistlib
import uuid
from typing import Any

from sqlalchemy import exists, or_, select, update
from sqlalchemy.orm import Session

from espalier.models import ArtifactVersion, DeviceArtifact, DeviceCommand, LocationAsset, StoreApp
from espalier.models.blueprints import STORE_APP
from espalier.services import fanout
from espalier.services.artifacts import FILTER_FIELDS, reinstall_version, version_artifact
from espalier.services.errors import NotFound, ServiceError

MAX_CONFIGURATION = 256 * 1024
UUID_FIELDS = ("content_filter_uuid", "dns_proxy_uuid", "vpn_uuid")
# what InstallApplication carries: a change installs the version again
INSTALL_FIELDS = ("location_asset_id", "associated_domains", "associated_domains_enable_direct_downloads",
                  "content_filter_uuid", "dns_proxy_uuid", "vpn_uuid", "prevent_backup", "removable",
                  "remove_on_unenroll")


def _invalid(errors: dict | list) -> ServiceError:
    return ServiceError("invalid input", errors)


def read_configuration(text: str | None) -> dict | None:
    """The configuration dictionary of its plist text (None: no configuration)."""
    if not text:
        return None
    value = plistlib.loads(text.encode())
    return value if isinstance(value, dict) else None


def _check_configuration(text: str | None) -> str | None:
    if text is None or not text.strip():
        return None
    if len(text.encode()) > MAX_CONFIGURATION:
        raise _invalid({"configuration": [f"Ensure this field has no more than {MAX_CONFIGURATION} bytes."]})
    try:
        value = plistlib.loads(text.encode())
    except Exception:
        raise _invalid({"configuration": ["Invalid property list"]}) from None
    if not isinstance(value, dict):
        raise _invalid({"configuration": ["Not a dictionary"]})
    return text


def get_store_app(s: Session, version_id: str) -> StoreApp:
    store_app = s.scalar(select(StoreApp).where(StoreApp.artifact_version_id == version_id))
    if store_app is None:
        raise NotFound("No StoreApp matches the given query.")
    return store_app


def list_store_apps(s: Session) -> list[StoreApp]:
    return list(s.scalars(select(StoreApp).join(StoreApp.artifact_version)
                          .order_by(ArtifactVersion.created_at, ArtifactVersion.id)))


def configuration_text(box, store_app: StoreApp) -> str | None:
    return box.open_str(store_app, "configuration") or None


def save_store_app(s: Session, rt, data: dict[str, Any], version_id: str | None = None) -> StoreApp:
    store_app = get_store_app(s, version_id) if version_id else None
    with s.no_autoflush:
        artifact = version_artifact(s, data, store_app.artifact_version_id if store_app is not None else None)
        if artifact.type != STORE_APP:
            raise _invalid({"artifact": ["Not a store app artifact"]})
        if artifact.channel != "Device":
            raise _invalid({"artifact": ["Store apps are installed on the device channel only"]})
        if s.get(LocationAsset, data["location_asset"]) is None:
            raise _invalid({"location_asset": [f'Invalid pk "{data["location_asset"]}" - object does not exist.']})
    configuration = _check_configuration(data.get("configuration"))
    values = {"location_asset_id": data["location_asset"],
              "associated_domains": list(dict.fromkeys(data.get("associated_domains") or [])),
              **{f: data[f] for f in ("associated_domains_enable_direct_downloads", "prevent_backup", "removable",
                                      "remove_on_unenroll")},
              **{f: str(uuid.UUID(data[f])) if data.get(f) else None for f in UUID_FIELDS}}
    if store_app is None:
        version = ArtifactVersion(artifact_id=artifact.id, version=data["version"])
        s.add(version)
        s.flush()
        store_app = StoreApp(artifact_version_id=version.id)
        s.add(store_app)
        changed = False
    else:
        version = store_app.artifact_version
        changed = (version.artifact_id != artifact.id or configuration != configuration_text(rt.secrets, store_app)
                   or any(getattr(store_app, f) != values[f] for f in INSTALL_FIELDS))
    old_artifact = version.artifact_id
    version.artifact_id, version.version = artifact.id, data["version"]
    for field in FILTER_FIELDS:
        setattr(version, field, data[field])
    for field, value in values.items():
        setattr(store_app, field, value)
    s.flush()
    rt.secrets.seal(store_app, "configuration", configuration)
    if old_artifact != artifact.id:
        s.execute(update(DeviceArtifact).where(DeviceArtifact.artifact_version_id == version.id)
                  .values(artifact_id=artifact.id))
    if changed:
        reinstall_version(s, version.id)
    s.flush()
    fanout.push_artifact_devices(s, rt, sorted({artifact.id, old_artifact}))
    return store_app


def delete_store_app(s: Session, rt, version_id: str) -> None:
    store_app = get_store_app(s, version_id)
    version = store_app.artifact_version
    if s.scalar(select(or_(
            exists().where(DeviceArtifact.artifact_version_id == version.id, DeviceArtifact.status != "removed"),
            exists().where(DeviceCommand.artifact_version == version.id, DeviceCommand.is_pending)))):
        raise _invalid(["This store app cannot be deleted"])
    artifact_id = version.artifact_id
    s.delete(store_app)
    s.delete(version)
    s.flush()
    fanout.push_artifact_devices(s, rt, [artifact_id])
