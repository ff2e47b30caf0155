"""OS update enforcement: which enforcement applies to a device, its target, the declaration,
and what the device reports of its updates (PROTOCOL.md 8 and 11; Zentral's rules).

Choice (Zentral's ``Target.software_update_enforcement``): among the blueprint's
enforcements for the device's platform, by id, one whose tags the device shares most wins;
an enforcement without tags applies when none matched first. Target: an explicit
``os_version`` (+ ``build_version``) by ``local_datetime``; or "latest": the newest catalogue
entry below ``max_os_version`` (excluded, as Zentral) that MDM may enforce (``AssetSets``, or a
background security improvement), available today, offered to the device's
``SoftwareUpdateDeviceID`` (all of its platform's when the device has not said it), due
``delay_days`` after its posting date at ``local_time``. No declaration for a device at or
above its target, below the declaration's minimum OS, user-enrolled, or a Mac known not to be
supervised (Apple's allowed enrollments for it).

``declarations`` runs on DDM check-ins: one query for the choice (enforcements, their tags,
the device's matching machine tags and its catalogue id, joined), one more for "latest".
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import and_, exists, func, or_, select

from espalier.models import (BlueprintSoftwareUpdateEnforcement, DeviceSoftwareUpdate, MachineTag, SoftwareUpdate,
                             SoftwareUpdateDeviceID, SoftwareUpdateEnforcement, SoftwareUpdateEnforcementTag)

log = logging.getLogger(__name__)

DECLARATION_TYPE = "com.apple.configuration.softwareupdate.enforcement.specific"
MINIMUM_OS = {"iOS": (17, 0, 0), "iPadOS": (17, 0, 0), "macOS": (14, 0, 0), "tvOS": (18, 4, 0)}
CATALOGUE_PLATFORM = {"iPadOS": "iOS"}  # the feed lists iPads under iOS
DEFAULT_DELAY_DAYS = 14
DEFAULT_LOCAL_TIME = time(9, 30)
_VERSION = re.compile(r"\s*(\d{1,6})(?:\.(\d{1,6}))?(?:\.(\d{1,6}))?\s*(?:\(?\s*([a-z]{1,8})\s*\)?)?\s*")
_SHORT = re.compile(r"[A-Za-z0-9_.,()+ -]{1,32}")


def os_version_tuple(version) -> tuple | None:
    """``"17.1.2 (a)"`` → ``(17, 1, 2, "a")``; ``"14"`` → ``(14, 0, 0, "")``; None when not a version
    (Zentral's ``make_comparable_os_version`` gives ``(0, 0, 0)`` for those: also refused here)."""
    match = _VERSION.fullmatch(version) if isinstance(version, str) else None
    if match is None:
        return None
    value = (int(match[1]), int(match[2] or 0), int(match[3] or 0), match[4] or "")
    return None if value[:3] == (0, 0, 0) else value


def _entry_tuple(su: SoftwareUpdate) -> tuple:
    return (su.major, su.minor, su.patch, su.extra.strip("() "))


@dataclass(frozen=True)
class Target:
    os_version: str
    build_version: str
    local_datetime: datetime

    @property
    def version(self) -> tuple:
        return os_version_tuple(self.os_version) or (0, 0, 0, "")

    def payload(self, details_url: str = "") -> dict:
        payload = {"TargetOSVersion": self.os_version,
                   "TargetLocalDateTime": self.local_datetime.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%S")}
        if self.build_version:
            payload["TargetBuildVersion"] = self.build_version
        if details_url:
            payload["DetailsURL"] = details_url
        return payload


# -- choice --------------------------------------------------------------------------------

def choose(candidates, platform: str | None, device_tags: set[int], serial_number: str | None = None):
    """Zentral's rule over ``[(enforcement, {tag ids})]`` in id order; the enforcement or None."""
    selected, matching = None, 0
    for enforcement, tag_ids in candidates:
        if platform not in (enforcement.platforms or ()):
            continue
        common = len(tag_ids & device_tags)
        if common > matching or (not tag_ids and selected is None):
            selected, matching = enforcement, common
        elif tag_ids and common == matching:
            log.warning("machine %s: software update enforcement conflict", serial_number)
    return selected


def _choice_rows(s, device):
    """Query 1: the blueprint's enforcements with each tag, whether the device has it, and the
    device's catalogue id (the same on every row)."""
    def state(column):
        return select(column).where(DeviceSoftwareUpdate.enrolled_device_id == device.id).scalar_subquery()

    stmt = (select(SoftwareUpdateEnforcement, SoftwareUpdateEnforcementTag.tag_id, MachineTag.tag_id,
                   state(DeviceSoftwareUpdate.software_update_device_id), state(DeviceSoftwareUpdate.os_version),
                   state(DeviceSoftwareUpdate.os_extra))
            .join(BlueprintSoftwareUpdateEnforcement,
                  BlueprintSoftwareUpdateEnforcement.enforcement_id == SoftwareUpdateEnforcement.id)
            .outerjoin(SoftwareUpdateEnforcementTag,
                       SoftwareUpdateEnforcementTag.enforcement_id == SoftwareUpdateEnforcement.id)
            .outerjoin(MachineTag, and_(MachineTag.tag_id == SoftwareUpdateEnforcementTag.tag_id,
                                        MachineTag.serial_number == (device.serial_number or "")))
            .where(BlueprintSoftwareUpdateEnforcement.blueprint_id == device.blueprint_id)
            .order_by(SoftwareUpdateEnforcement.id))
    return s.execute(stmt).all()


def _applicable(s, device):
    """(the enforcement that applies, the device's catalogue id, its current version) from one query."""
    candidates: dict[int, tuple] = {}
    device_tags: set[int] = set()
    catalogue_id = reported = extra = None
    for enforcement, tag_id, device_tag, catalogue_id, reported, extra in _choice_rows(s, device):
        entry = candidates.setdefault(enforcement.id, (enforcement, set()))
        if tag_id is not None:
            entry[1].add(tag_id)
        if device_tag is not None:
            device_tags.add(device_tag)
    chosen = choose(candidates.values(), device.platform, device_tags, device.serial_number)
    return chosen, catalogue_id, current_version(device.os_version, reported, extra)


def current_version(os_version: str | None, reported: str | None = None, extra: str | None = None) -> str | None:
    """The device's version with its background security improvement (``15.1 (a)``), when the
    status report that named it is about the version the device row holds."""
    if os_version and extra and reported == os_version:
        return f"{os_version} {extra}"
    return os_version


# -- target ----------------------------------------------------------------------------------

def latest_update(s, *, platform: str | None, catalogue_id: str | None, build: str | None, max_os_version: str,
                  today: date) -> SoftwareUpdate | None:
    """The newest enforceable entry below ``max_os_version`` for this device (query 2)."""
    stmt = select(SoftwareUpdate).where(
        or_(SoftwareUpdate.public.is_(False), SoftwareUpdate.extra != ""),
        or_(SoftwareUpdate.prerequisite_build == "", SoftwareUpdate.prerequisite_build == (build or "")),
        SoftwareUpdate.posting_date <= today,
        or_(SoftwareUpdate.expiration_date.is_(None), SoftwareUpdate.expiration_date > today))
    if catalogue_id:
        stmt = stmt.where(exists().where(SoftwareUpdateDeviceID.software_update_id == SoftwareUpdate.id,
                                         SoftwareUpdateDeviceID.device_id == catalogue_id))
    else:
        stmt = stmt.where(SoftwareUpdate.platform == CATALOGUE_PLATFORM.get(platform, platform))
    stmt = stmt.order_by(SoftwareUpdate.major.desc(), SoftwareUpdate.minor.desc(), SoftwareUpdate.patch.desc(),
                         SoftwareUpdate.extra.desc(), SoftwareUpdate.id)
    ceiling = os_version_tuple(max_os_version)
    for su in s.scalars(stmt):
        if ceiling is None or _entry_tuple(su) < ceiling:
            return su
    return None


def target(s, enforcement: SoftwareUpdateEnforcement, *, platform: str | None, catalogue_id: str | None,
           build: str | None, now: datetime) -> Target | None:
    """What ``enforcement`` asks of a device with this catalogue id and build, or None."""
    if not enforcement.max_os_version:
        if not enforcement.os_version or enforcement.local_datetime is None:
            return None
        return Target(enforcement.os_version, enforcement.build_version or "", enforcement.local_datetime)
    su = latest_update(s, platform=platform, catalogue_id=catalogue_id, build=build,
                       max_os_version=enforcement.max_os_version, today=now.date())
    if su is None:
        return None
    delay = DEFAULT_DELAY_DAYS if enforcement.delay_days is None else enforcement.delay_days
    local_time = enforcement.local_time or DEFAULT_LOCAL_TIME
    try:
        due = datetime.combine(su.posting_date, local_time) + timedelta(days=delay)
    except OverflowError:  # a delay of millions of days: past year 9999
        due = datetime.max
    return Target(su.os_version, su.build, due)


def is_below(os_version: str | None, goal: Target) -> bool:
    current = os_version_tuple(os_version)
    return current is not None and current < goal.version


# -- the declaration -----------------------------------------------------------------------

def identifier(blueprint_id: int) -> str:
    return f"espalier.blueprint.{blueprint_id}.softwareupdate-enforcement"  # ≤ 56 octets


def declaration(blueprint_id: int, goal: Target, details_url: str = "") -> dict:
    payload = goal.payload(details_url)
    token = hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    return {"Type": DECLARATION_TYPE, "Identifier": identifier(blueprint_id), "ServerToken": token[:40],
            "Payload": payload}


def declarations(ctx, device) -> list[dict]:
    """The enforcement declaration for ``device`` (an ORM EnrolledDevice), or none."""
    minimum = MINIMUM_OS.get(device.platform)
    current = os_version_tuple(device.os_version)
    if device.blueprint_id is None or minimum is None or current is None or current[:3] < minimum:
        return []
    # Apple's allowed enrollments: not user enrollments; on macOS, supervised only
    if device.user_enrollment or (device.platform == "macOS" and device.supervised is False):
        return []
    enforcement, catalogue_id, version = _applicable(ctx.s, device)
    if enforcement is None:
        return []
    goal = target(ctx.s, enforcement, platform=device.platform, catalogue_id=catalogue_id,
                  build=device.build_version, now=ctx.now)
    if goal is None:
        log.info("device %s: enforcement %s has no target (empty or expired catalogue?)", device.id, enforcement.id)
        return []
    if not is_below(version, goal):
        return []
    return [declaration(device.blueprint_id, goal, enforcement.details_url)]


# -- what the device reports ---------------------------------------------------------------------

def _short(value, limit: int = 32) -> str | None:
    if isinstance(value, str) and len(value) <= limit and _SHORT.fullmatch(value):
        return value
    return None


_UNREAD = object()


def _state(ctx, device, row=_UNREAD) -> DeviceSoftwareUpdate:
    """The device's row, made if missing; ``row``: what the caller read already (None: missing)."""
    if row is _UNREAD:
        row = ctx.s.get(DeviceSoftwareUpdate, device.id)
    if row is None:
        row = DeviceSoftwareUpdate(enrolled_device_id=device.id)
        ctx.s.add(row)
    return row


def record_device_id(ctx, device, value) -> None:
    """The device's ``SoftwareUpdateDeviceID`` (DeviceInformation), which the catalogue lists."""
    device_id = _short(value)
    if device_id is None:
        return
    with ctx.s.no_autoflush:  # the device's inventory changes are flushed once, with the rest of the report
        row = ctx.s.get(DeviceSoftwareUpdate, device.id)
    if row is None or row.software_update_device_id != device_id:
        _state(ctx, device, row).software_update_device_id = device_id


def _failure(value) -> dict | None:
    if not isinstance(value, dict):
        return None
    out = {}
    count = value.get("count")
    if isinstance(count, int) and not isinstance(count, bool) and 0 <= count < 2**31:
        out["count"] = count
    for key, limit in (("reason", 256), ("timestamp", 64)):
        text = value.get(key)
        if isinstance(text, str) and "\x00" not in text:
            out[key] = text[:limit]
    return out or None


def _reasons(value) -> list | None:
    reasons = value.get("reason") if isinstance(value, dict) else value
    if not isinstance(reasons, list):
        return None
    kept = [r[:64] for r in reasons[:20] if isinstance(r, str) and "\x00" not in r]
    return kept if kept or not reasons else None


def record_status(ctx, device, status_items: dict) -> None:
    """Store the ``softwareupdate.*`` items of a DDM status report (and the OS version under
    ``device.operating-system``); anything of the wrong type is ignored."""
    if not isinstance(status_items, dict):
        return
    system = status_items.get("device")
    system = system.get("operating-system") if isinstance(system, dict) else None
    changes: dict = {}
    if isinstance(system, dict):
        version = system.get("version")
        if _short(version) and os_version_tuple(version):
            device.os_version = version
            supplemental = system.get("supplemental")
            extra = _short(supplemental.get("extra-version"), 16) if isinstance(supplemental, dict) else None
            changes.update(os_version=version, os_extra=extra)
        build = _short(system.get("build-version"))
        if build:
            device.build_version = build
    items = status_items.get("softwareupdate")
    if not isinstance(items, dict):
        items = {}
    if "install-state" in items and (state := _short(items["install-state"])) is not None:
        changes["install_state"] = state
    pending = items.get("pending-version")
    if isinstance(pending, dict):
        changes["pending_os_version"] = _short(pending.get("os-version"))
        changes["pending_build_version"] = _short(pending.get("build-version"))
    if (failure := _failure(items.get("failure-reason"))) is not None:
        changes["failure_reason"] = failure
    if (reasons := _reasons(items.get("install-reason"))) is not None:
        changes["install_reason"] = reasons
    if (catalogue_id := _short(items.get("device-id"))) is not None:
        changes["software_update_device_id"] = catalogue_id
    if not changes:
        return
    row = _state(ctx, device)
    for field, value in changes.items():
        setattr(row, field, value)
    row.reported_at = ctx.now


def enforcements_by_blueprint(s, blueprint_ids: list[int]) -> dict[int, int]:
    """How many enforcements each blueprint lists: the DDM module counts them with its
    declaration artifacts (``Blueprint.declaration_count``), so their devices are synced."""
    return dict(s.execute(select(BlueprintSoftwareUpdateEnforcement.blueprint_id, func.count()).where(
        BlueprintSoftwareUpdateEnforcement.blueprint_id.in_(blueprint_ids))
        .group_by(BlueprintSoftwareUpdateEnforcement.blueprint_id)).all())
