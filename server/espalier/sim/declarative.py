"""What a simulated device does with Declarative Device Management, over the wire.

After a DeclarativeManagement command: `tokens`; when the DeclarationsToken is not its own,
`declaration-items`, then each declaration whose ServerToken it lacks; it drops what the
server no longer lists, applies the rest and sends a full `status` report. It rejects
(valid "invalid", with a reason) types it does not know and the identifiers of its
`reject_declarations` knob; a configuration is active only when a valid activation names it.
An active `softwareupdate.enforcement.specific` above its OS is reported as downloading until
`install_os_update` installs it.

Shapes: apple/device-management `declarative/protocol/*.yaml`, `declarative/status/*.yaml`.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from espalier.sim.device import SimulatedDevice

ITEMS = (("Activations", "activation"), ("Configurations", "configuration"), ("Assets", "asset"),
         ("Management", "management"))
STATUS_LISTS = {"activation": "activations", "configuration": "configurations", "asset": "assets",
                "management": "management"}
ENFORCEMENT = "com.apple.configuration.softwareupdate.enforcement.specific"
LEGACY = "com.apple.configuration.legacy"
# What this simulated OS knows (a sample of Apple's declarations).
KNOWN_TYPES = frozenset({
    "com.apple.activation.simple",
    "com.apple.configuration.passcode.settings", "com.apple.configuration.management.test",
    "com.apple.configuration.management.status-subscriptions", "com.apple.configuration.legacy",
    "com.apple.configuration.softwareupdate.settings", ENFORCEMENT,
    "com.apple.configuration.account.caldav", "com.apple.configuration.account.mail",
    "com.apple.configuration.security.certificate", "com.apple.configuration.screensharing.connection",
    "com.apple.asset.credential.userpassword", "com.apple.asset.credential.certificate", "com.apple.asset.data",
    "com.apple.asset.useridentity",
    "com.apple.management.organization-info", "com.apple.management.properties",
    "com.apple.management.server-capabilities",
})


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", text or "")[:3]) or (0,)


def _fetch(device: SimulatedDevice, endpoint: str) -> dict[str, Any] | None:
    response = device.checkin("DeclarativeManagement", Endpoint=endpoint)
    if response is None or response.status_code != 200:
        if response is not None:
            device.errors.append(f"DDM {endpoint}: HTTP {response.status_code}")
        return None
    if response.headers.get("content-type", "").split(";")[0] != "application/json":
        device.errors.append(f"DDM {endpoint}: Content-Type {response.headers.get('content-type')!r}")
        return None
    try:
        body = json.loads(response.content)
    except ValueError:
        device.errors.append(f"DDM {endpoint}: not JSON")
        return None
    if not isinstance(body, dict):
        device.errors.append(f"DDM {endpoint}: not a JSON object")
        return None
    return body


def sync(device: SimulatedDevice) -> bool:
    """One sync; True when the device has the server's set (and reported its status)."""
    tokens = _fetch(device, "tokens")
    if tokens is None:
        return False
    token = (tokens.get("SyncTokens") or {}).get("DeclarationsToken")
    device.ddm_token_checks += 1
    if not isinstance(token, str) or not token:
        device.errors.append("DDM tokens: no DeclarationsToken")
        return False
    if token == device.declarations_token:
        return True
    items = _fetch(device, "declaration-items")
    if items is None:
        return False
    declared = items.get("Declarations")
    if not isinstance(declared, dict) or any(not isinstance(declared.get(key), list) for key, _ in ITEMS):
        device.errors.append("DDM declaration-items: the four arrays are required")
        return False
    wanted: dict[str, tuple[str, str]] = {}
    for key, kind in ITEMS:
        for item in declared[key]:
            wanted[item["Identifier"]] = (kind, item["ServerToken"])
    _fetch_declarations(device, wanted)
    device.declarations_token = items.get("DeclarationsToken")
    return send_status(device)


def _fetch_declarations(device: SimulatedDevice, wanted: dict[str, tuple[str, str]]) -> None:
    """Fetch what changed, apply it, drop what the server no longer lists."""
    for identifier, (kind, server_token) in wanted.items():
        have = device.declarations.get(identifier)
        if have is not None and have["ServerToken"] == server_token:
            continue
        declaration = _fetch(device, f"declaration/{kind}/{identifier}")
        if declaration is None:
            continue
        if declaration.get("ServerToken") != server_token or declaration.get("Identifier") != identifier:
            device.errors.append(f"DDM declaration {identifier}: ServerToken or Identifier differs from the list")
        if have is not None:
            _drop(device, have)
        declaration = {**declaration, "kind": kind}
        if declaration.get("Type") == LEGACY:
            _install_legacy(device, declaration)
        device.declarations[identifier] = declaration
        device.declaration_fetches.append(identifier)
    for identifier in [i for i in device.declarations if i not in wanted]:
        _drop(device, device.declarations.pop(identifier))


def _install_legacy(device: SimulatedDevice, declaration: dict[str, Any]) -> None:
    """Download the profile of a legacy declaration and install it; a failure is kept as the
    declaration's problem (reported invalid)."""
    from espalier.sim.device import EnrollmentError
    from espalier.sim.profiles import ProfileError, payload_problem, read_profile

    url = (declaration.get("Payload") or {}).get("ProfileURL")
    try:
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise ProfileError("no ProfileURL")
        response = device.download(url)
        if response.status_code != 200:
            raise ProfileError(f"ProfileURL answered HTTP {response.status_code}")
        identity = (device.identity_cert, device.identity_key) if device.identity_cert else None
        profile, _signers = read_profile(response.content, identity)
        if (problem := payload_problem(profile)) is not None:
            raise ProfileError(problem)
    except (ProfileError, EnrollmentError) as exc:
        declaration["problem"] = str(exc)
        return
    device.profiles[profile["PayloadIdentifier"]] = profile
    declaration["installed_profile"] = profile["PayloadIdentifier"]


def _drop(device: SimulatedDevice, declaration: dict[str, Any]) -> None:
    """A declaration the device no longer has: a legacy one takes its profile with it."""
    if declaration.get("installed_profile"):
        device.profiles.pop(declaration["installed_profile"], None)


def _validity(device: SimulatedDevice, identifier: str, declaration: dict[str, Any]) -> tuple[str, list | None]:
    if declaration.get("problem"):
        return "invalid", [{"Code": "Error.ProfileCannotBeInstalled", "Description": declaration["problem"]}]
    if identifier in device.reject_declarations:
        return "invalid", [{"Code": "Error.ConfigurationCannotBeApplied",
                            "Description": "The simulated device refused this declaration."}]
    if declaration.get("Type") not in KNOWN_TYPES:
        return "invalid", [{"Code": "Error.UnknownDeclarationType",
                            "Description": f"Unknown declaration type {declaration.get('Type')!r}."}]
    if not isinstance(declaration.get("Payload"), dict):
        return "invalid", [{"Code": "Error.MissingPayload", "Description": "No Payload."}]
    return "valid", None


def evaluate(device: SimulatedDevice) -> dict[str, dict[str, Any]]:
    """identifier -> {kind, valid, active, reasons, server_token, declaration}."""
    out: dict[str, dict[str, Any]] = {}
    activated: set[str] = set()
    for identifier, declaration in device.declarations.items():
        valid, reasons = _validity(device, identifier, declaration)
        out[identifier] = {"kind": declaration["kind"], "valid": valid, "reasons": reasons,
                           "server_token": declaration["ServerToken"], "declaration": declaration}
        if declaration["kind"] == "activation" and valid == "valid":
            activated |= set(declaration["Payload"].get("StandardConfigurations") or ())
    for identifier, state in out.items():
        valid = state["valid"] == "valid"
        state["active"] = valid and (state["kind"] != "configuration" or identifier in activated)
    return out


def status_items(device: SimulatedDevice) -> dict[str, Any]:
    states = evaluate(device)
    lists: dict[str, list] = {name: [] for name in STATUS_LISTS.values()}
    for identifier, state in sorted(states.items()):
        entry = {"identifier": identifier, "active": state["active"], "valid": state["valid"],
                 "server-token": state["server_token"]}
        if state["reasons"]:
            entry["reasons"] = state["reasons"]
        lists[STATUS_LISTS[state["kind"]]].append(entry)
    f = device.facts
    items: dict[str, Any] = {
        "management": {"declarations": lists, "client-capabilities": {"supported-versions": ["1.0"]}},
        "device": {"operating-system": {"version": f.os_version, "build-version": f.build_version},
                   "identifier": {"serial-number": f.serial, "udid": f.udid}},
    }
    target = pending_update(device, states)
    enforcing = any(s["active"] and s["declaration"].get("Type") == ENFORCEMENT for s in states.values())
    if target is not None:
        items["softwareupdate"] = {"install-state": "downloading", "pending-version": {
            "os-version": target[0], "build-version": target[1]}}
    elif enforcing:
        items["softwareupdate"] = {"install-state": "none"}
    return items


def pending_update(device: SimulatedDevice, states: dict | None = None) -> tuple[str, str] | None:
    """(os-version, build-version) an active enforcement asks for above the current OS."""
    for state in (states or evaluate(device)).values():
        declaration = state["declaration"]
        if not state["active"] or declaration.get("Type") != ENFORCEMENT:
            continue
        target = str(declaration["Payload"].get("TargetOSVersion") or "")
        if target and _version(target) > _version(device.facts.os_version):
            return target, str(declaration["Payload"].get("TargetBuildVersion") or "")
    return None


def send_status(device: SimulatedDevice) -> bool:
    report = {"StatusItems": status_items(device), "Errors": [], "FullReport": True}
    response = device.checkin("DeclarativeManagement", Endpoint="status", Data=json.dumps(report).encode())
    if response is None or response.status_code != 200:
        if response is not None:
            device.errors.append(f"DDM status: HTTP {response.status_code}")
        return False
    device.status_reports.append(report)
    return True


def install_os_update(device: SimulatedDevice) -> bool:
    """The knob: install what an enforcement asks for (the OS version moves), report it."""
    target = pending_update(device)
    if target is None:
        return False
    device.facts.os_version = target[0]
    device.facts.build_version = target[1] or device.facts.build_version
    return send_status(device)
