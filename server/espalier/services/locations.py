"""Apps and Books locations: upload (or renew) an sToken, list, read, delete.

Uploading asks Apple for the location's config with the token, then claims the location
for this server (``POST client/config``: our mdmInfo, the notification URL and a
notification auth token of our own) and stores what Apple said. The token and the auth
token are sealed in the SecretBox, bound to the row; the token is found again by a keyed
hash, never by its value. A location is its library uid: a new token for a known uid
renews that row (same mdm_info_id, same auth token); a renewal of one location with the
token of another is refused. A location claimed by another MDM (a foreign mdmInfo.id) is
taken over only with ``force``.

``mdm_info_id`` is derived from our secret key and the library uid: stable for this server,
distinct per location, and the same again if a deleted location is uploaded again.
"""
from __future__ import annotations

import base64
import binascii
import json
import logging
import secrets as stdsecrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from espalier.models import Location
from espalier.services.errors import Conflict, NotFound, ServiceError, Unavailable

log = logging.getLogger(__name__)

MAX_TOKEN_CHARS = 16 * 1024
NOTIFICATION_PATH = "/public/mdm/locations/{mdm_info_id}/notify/"
MDM_NAME = "Espalier"


@dataclass(frozen=True)
class ServerToken:
    content: str  # the .vpptoken as downloaded: what Apple takes as the bearer token
    expiration_date: datetime  # naive UTC
    organization_name: str


@dataclass
class Upload:
    location: Location
    action: str  # created | renewed | unchanged
    claimed_by: dict | None = None  # Apple's mdmInfo before the upload (dry runs show it)


def _err(message: str, field: str = "server_token") -> ServiceError:
    return ServiceError(f"{field}: {message}", {field: [message]})


def parse_token(content: Any) -> ServerToken:
    """Check a .vpptoken's content (base64 of JSON {token, expDate, orgName})."""
    if not isinstance(content, str) or not content.strip():
        raise _err("This field is required.")
    content = content.strip()
    if len(content) > MAX_TOKEN_CHARS:
        raise _err(f"at most {MAX_TOKEN_CHARS} characters")
    try:
        data = json.loads(base64.b64decode(content, validate=True))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise _err("not a .vpptoken (base64 of a JSON object)") from None
    if not isinstance(data, dict) or not all(isinstance(data.get(k), str) and data[k] for k in
                                             ("token", "expDate", "orgName")):
        raise _err("not a .vpptoken: token, expDate and orgName are required")
    expires = _parse_date(data["expDate"])
    if expires is None:
        raise _err("the token's expDate is not a date")
    return ServerToken(content, expires, data["orgName"][:1024])


def _parse_date(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    text = value.strip().replace("Z", "+00:00")
    if len(text) > 5 and text[-5] in "+-" and text[-4:].isdigit():  # +0000 -> +00:00
        text = f"{text[:-2]}:{text[-2:]}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
    return parsed


def mdm_info_id_for(box, library_uid: str) -> str:
    return str(uuid.UUID(box.fingerprint(library_uid, "apps-books-mdm-info")[:32]))


def notification_url(base_url: str, mdm_info_id: str) -> str:
    return base_url.rstrip("/") + NOTIFICATION_PATH.format(mdm_info_id=mdm_info_id)


def _mdm_info(rt, mdm_info_id: str) -> dict:
    return {"id": mdm_info_id, "name": MDM_NAME, "metadata": urlsplit(rt.settings.base_url).netloc}


def upload(s: Session, rt, content: Any, *, location_id: int | None = None, force: bool = False,
           dry_run: bool = False) -> Upload:
    """Add or renew the location of a .vpptoken (``location_id``: only that location).

    ``dry_run`` asks Apple for the config (read only) and says what would happen, changing
    nothing here or at Apple.
    """
    from espalier.apple.apps_books import AppsBooksError, InvalidToken, Unreachable

    token = parse_token(content)
    if token.expiration_date <= datetime.now(timezone.utc).replace(tzinfo=None):
        raise _err(f"this token expired on {token.expiration_date:%Y-%m-%d}: download a new one from "
                   "Apple Business Manager (Preferences > Payments and Billing)")
    box = rt.secrets
    token_hash = box.fingerprint(token.content, "apps-books-server-token")
    target = get(s, location_id) if location_id is not None else None
    with rt.apps_books_client(token.content) as client:
        try:
            config = client.client_config()
        except InvalidToken:
            raise _err("Apple refused this token (expired, revoked, or replaced by a newer download)") from None
        except Unreachable as exc:
            raise Unavailable(f"Apple's Apps and Books service: {exc}") from None
        except AppsBooksError as exc:
            raise Conflict(f"Apple's Apps and Books service answered: {exc}") from None
        library_uid = config.get("uId")
        if not isinstance(library_uid, str) or not library_uid:
            raise Conflict("Apple's client config has no uId (library id)")
        existing = s.scalar(select(Location).where(Location.library_uid == library_uid).with_for_update())
        if target is not None and (existing is None or existing.id != target.id):
            raise _err(f"this token is for another location ({config.get('locationName')!r}, uId {library_uid}), "
                       f"not {target.name!r} (uId {target.library_uid}): upload it as a new location instead")
        mdm_info_id = existing.mdm_info_id if existing is not None else mdm_info_id_for(box, library_uid)
        url = notification_url(rt.settings.base_url, mdm_info_id)
        claimed_by = config.get("mdmInfo") if isinstance(config.get("mdmInfo"), dict) else None
        if claimed_by and claimed_by.get("id") and claimed_by.get("id") != mdm_info_id and not force:
            raise Conflict(f"location {config.get('locationName')!r} is managed by another MDM server "
                           f"({claimed_by.get('name')!r}, {claimed_by.get('metadata')!r}): force: true to take it "
                           "over (that server stops receiving its notifications)")
        ours = bool(claimed_by) and claimed_by.get("id") == mdm_info_id and config.get("notificationUrl") == url
        if existing is not None and existing.server_token_hash == token_hash and ours:
            return Upload(existing, "unchanged", claimed_by)
        action = "renewed" if existing is not None else "created"
        if dry_run:
            preview = existing if existing is not None else Location(mdm_info_id=mdm_info_id)
            if existing is not None:
                s.expunge(existing)  # the preview's changes are never flushed
            _fill(preview, token, config)
            return Upload(preview, action, claimed_by)
        auth_token = box.open_str(existing, "notification_auth_token") if existing is not None else None
        auth_token = auth_token or f"esp_nat_{stdsecrets.token_urlsafe(32)}"
        try:
            config = {**config, **client.claim(_mdm_info(rt, mdm_info_id), url, auth_token)}
        except Unreachable as exc:
            raise Unavailable(f"Apple's Apps and Books service: {exc}") from None
        except AppsBooksError as exc:
            raise Conflict(f"Apple refused to let this server manage the location: {exc}") from None
    location = existing
    if location is None:
        location = Location(mdm_info_id=mdm_info_id, server_token_hash=token_hash)
        s.add(location)
    _fill(location, token, config)
    location.server_token_hash = token_hash
    box.seal(location, "server_token", token.content)  # a new row is flushed for its id here
    box.seal(location, "notification_auth_token", auth_token)
    s.flush()
    log.info("Apps and Books location %r (uId %s) %s; token expires %s", location.name, library_uid, action,
             location.server_token_expiration_date.date())
    return Upload(location, action, claimed_by)


def _fill(location: Location, token: ServerToken, config: dict) -> None:
    def text(key: str, default: str = "") -> str:
        value = config.get(key)
        return value if isinstance(value, str) else default

    location.organization_name = token.organization_name
    location.server_token_expiration_date = _parse_date(config.get("tokenExpirationDate")) or token.expiration_date
    location.name = text("locationName", token.organization_name)[:1024]
    location.country_code = text("countryISO2ACode")[:2].upper()
    location.library_uid = text("uId")[:256]
    location.platform = text("defaultPlatform", "enterprisestore")[:64]
    location.website_url = text("websiteURL")[:2048]


def get(s: Session, location_id: int) -> Location:
    location = s.get(Location, location_id)
    if location is None:
        raise NotFound("No Location matches the given query.")
    return location


def exists(s: Session, location_id: int) -> bool:
    return s.scalar(select(Location.id).where(Location.id == location_id)) is not None


def list_all(s: Session, name: str | None = None, organization_name: str | None = None,
             mdm_info_id: str | None = None) -> list[Location]:
    stmt = select(Location).order_by(Location.name, Location.organization_name, Location.id)
    if name is not None:
        stmt = stmt.where(Location.name == name)
    if organization_name is not None:
        stmt = stmt.where(Location.organization_name == organization_name)
    if mdm_info_id is not None:
        stmt = stmt.where(Location.mdm_info_id == mdm_info_id.strip().lower())
    return list(s.scalars(stmt))


def by_mdm_info_id(s: Session, mdm_info_id: str) -> Location | None:
    return s.scalar(select(Location).where(Location.mdm_info_id == mdm_info_id))


def delete(s: Session, location_id: int) -> None:
    """Forget a location (its assets' counts and assignments go with it; Apple keeps the licences)."""
    s.delete(get(s, location_id))
    s.flush()
