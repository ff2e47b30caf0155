"""Settings: one JSON or YAML file, validated against a schema, with file/env substitution.

The layout mirrors Zentral's base.json: server-wide keys at the top level and the MDM
settings under ``apps["espalier.mdm"]``. Any problem is reported as one line naming
the key (``SettingsError``); callers print it and exit, never a traceback.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class SettingsError(Exception):
    """A settings problem, phrased as one line that names the key."""


@dataclass(frozen=True)
class Field:
    type: type | tuple[type, ...]
    default: Any = None
    required: bool = False
    nullable: bool = True
    check: Any = None  # optional callable(value) -> error message or None


def _positive(value: int) -> str | None:
    return None if value > 0 else "must be greater than 0"


def _one_of(*values: str):
    def check(value: str) -> str | None:
        return None if value in values else f"must be one of {', '.join(values)}"
    return check


def _url_scheme(*schemes: str):
    def check(value: str) -> str | None:
        return None if value.split(":", 1)[0] in schemes else f"must start with {' or '.join(schemes)}"
    return check


def _file(value: str) -> str | None:
    return None if os.path.isfile(value) else "no such file"


MDM_SCHEMA: dict[str, Any] = {
    "scep_ca_fullchain": Field(str),  # PEM chain of an external SCEP CA; the built-in CA is always trusted
    "apple_device_ca_fullchain": Field(str),  # attestation anchors; default: Apple's device CA chain (mdm/data)
    "mtls_proxy": Field(bool, True, nullable=False),
    # PEM chain of the server's TLS certificate: DEP enrollments with include_tls_certificates
    # hand it to Setup Assistant as anchor_certs
    "tls_fullchain": Field(str),
    "max_body_bytes": Field(int, 8 * 1024 * 1024, nullable=False, check=_positive),
    "inventory_interval": Field(int, 86400, nullable=False, check=_positive),
    "user_channels": Field(bool, False, nullable=False),
    "scep_cert_validity_days": Field(int, 365, nullable=False, check=_positive),
    "apns": {
        "sandbox": Field(bool, False, nullable=False),
        "expiration_seconds": Field(int, 3 * 86400, nullable=False, check=_positive),
        "host": Field(str),
        "port": Field(int, 443, nullable=False, check=_positive),
        "ca_file": Field(str),  # only to trust a test APNs server
    },
    "abm": {  # Apple Business Manager's ADE (DEP) API
        "base_url": Field(str, "https://mdmenrollment.apple.com", nullable=False, check=_url_scheme("https", "http")),
        "ca_file": Field(str),  # a CA bundle to trust instead of the system's (a TLS-inspecting proxy, tests)
        "sync_minutes": Field(int, 30, nullable=False, check=_positive),  # scheduled device sync of every server
        # profile assignment: THROTTLED serials are tried again after Apple's retry_after_seconds
        # (at most this long a wait, this many rounds)
        "assign_retry_max_seconds": Field(int, 120, nullable=False, check=_positive),
        "assign_retry_rounds": Field(int, 5, nullable=False, check=_positive),
    },
    "apps_books": {  # Apple's Apps and Books service (apple.apps_books, tasks.apps_books)
        "url": Field(str, "https://vpp.itunes.apple.com/mdm/v2/", nullable=False, check=_url_scheme("https")),
        "ca_file": Field(str),  # only to trust a test service
        "timeout": Field(int, 30, nullable=False, check=_positive),
        "sync_seconds": Field(int, 86400, nullable=False, check=_positive),  # every location's periodic sync
        "event_poll_seconds": Field(int, 300, nullable=False, check=_positive),  # licence events not notified
    },
    "sweeps": {  # the periodic jobs that finish lost work (tasks.periodic, tasks.sweeps)
        "renotify_seconds": Field(int, 30, nullable=False, check=_positive),
        "lost_tasks_seconds": Field(int, 60, nullable=False, check=_positive),
        "inventory_seconds": Field(int, 900, nullable=False, check=_positive),
        # None: a queued task is lost after 60 s, a started one after its timeout + 60 s
        "task_lost_after_seconds": Field(int, None, check=_positive),
    },
    "software_updates": {  # Apple's software update catalogue (apple/gdmf.py, tasks/software_updates.py)
        "url": Field(str, "https://gdmf.apple.com/v2/pmv", nullable=False, check=_url_scheme("https")),
        "ca_bundle": Field(str, check=_file),  # PEM file; default: Apple Root CA (apple/data)
        "sync_seconds": Field(int, 86400, nullable=False, check=_positive),
        "timeout_seconds": Field(int, 60, nullable=False, check=_positive),
        "max_bytes": Field(int, 32 * 1024 * 1024, nullable=False, check=_positive),
    },
}

SCHEMA: dict[str, Any] = {
    "base_url": Field(str, "http://127.0.0.1:8000", nullable=False, check=_url_scheme("http", "https")),
    "database_url": Field(str, required=True, nullable=False),
    "redis_url": Field(str, check=_url_scheme("redis", "rediss", "unix")),
    "secret_keys": Field(list, required=True, nullable=False),
    "log_level": Field(str, "INFO", nullable=False),
    # gunicorn's access log: every request, operator requests and refused device requests, or none
    "access_log": Field(str, "operator", nullable=False, check=_one_of("all", "operator", "off")),
    "apps": {"espalier.mdm": MDM_SCHEMA},
}

_APPLE_DEVICE_CA = Path(__file__).parent / "mdm" / "data" / "apple_device_ca.pem"
# {{ file:PATH }} / {{ env:NAME }}, optionally with Zentral's filters: {{ file:PATH | base64decode }}
_SUBST = re.compile(r"\{\{\s*(file|env):\s*([^}|]+?)\s*((?:\|\s*\w+\s*)*)\}\}")
_FILTERS = ("base64decode", "base64encode", "strip")
ZENTRAL_APP = "zentral.contrib.mdm"  # Zentral's name for the section: accepted as ours


@dataclass
class Settings:
    """Validated settings. ``mdm`` is the ``apps["espalier.mdm"]`` section."""

    data: dict[str, Any]
    path: str | None = None
    mdm: dict[str, Any] = field(init=False)

    external_ca_chain: list = field(init=False, repr=False)
    apple_device_ca_chain: list = field(init=False, repr=False)
    tls_chain: list = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.mdm = self.data["apps"]["espalier.mdm"]
        self.external_ca_chain = _pem_chain("apps.espalier.mdm.scep_ca_fullchain", self.mdm["scep_ca_fullchain"])
        self.apple_device_ca_chain = _pem_chain("apps.espalier.mdm.apple_device_ca_fullchain",
                                                self.mdm["apple_device_ca_fullchain"] or _APPLE_DEVICE_CA.read_text())
        self.tls_chain = _pem_chain("apps.espalier.mdm.tls_fullchain", self.mdm["tls_fullchain"])

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    @property
    def base_url(self) -> str:
        return self.data["base_url"].rstrip("/")


def _pem_chain(name: str, pem: str | None) -> list:
    """A PEM chain given in the settings, parsed now: a bad one stops start-up, not every check-in."""
    if not pem:
        return []
    from espalier.pki.ca import CAError, load_pem_chain

    try:
        return load_pem_chain(pem)
    except CAError:
        raise SettingsError(f"settings: {name}: not a PEM certificate chain") from None


def load(path: str | os.PathLike | None) -> Settings:
    """Read, substitute and validate the settings file at ``path``."""
    if not path:
        raise SettingsError("no settings file: pass --settings FILE or set ESPALIER_SETTINGS")
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise SettingsError(f"settings file {p}: {exc.strerror}") from None
    try:
        raw = yaml.safe_load(text) if p.suffix in (".yml", ".yaml") else json.loads(text)
    except (ValueError, yaml.YAMLError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SettingsError(f"settings file {p}: not valid {'YAML' if p.suffix in ('.yml', '.yaml') else 'JSON'}: {first}") from None
    return from_mapping(raw, str(p))


def from_mapping(raw: Any, path: str | None = None) -> Settings:
    """Validate an already parsed mapping (tests and the CLI use this directly)."""
    if not isinstance(raw, dict):
        raise SettingsError("settings: the top level must be a mapping")
    apps = raw.get("apps")
    if isinstance(apps, dict) and ZENTRAL_APP in apps:
        if "espalier.mdm" in apps:
            raise SettingsError(f"settings: apps: both espalier.mdm and {ZENTRAL_APP}: keep one")
        raw = {**raw, "apps": {("espalier.mdm" if k == ZENTRAL_APP else k): v for k, v in apps.items()}}
    data = _validate(raw, SCHEMA, "")
    keys = data["secret_keys"]
    if not keys or not all(isinstance(k, str) and len(k) >= 32 for k in keys):
        raise SettingsError("settings: secret_keys: must be a non-empty list of strings of at least 32 characters")
    return Settings(data, path)


def _validate(raw: dict, schema: dict, prefix: str) -> dict:
    for key in raw:
        if key not in schema:
            raise SettingsError(f"settings: {prefix}{key}: unknown key")
    out: dict[str, Any] = {}
    for key, spec in schema.items():
        name = f"{prefix}{key}"
        if isinstance(spec, dict):
            value = raw.get(key, {})
            if not isinstance(value, dict):
                raise SettingsError(f"settings: {name}: expected a mapping")
            out[key] = _validate(value, spec, f"{name}.")
            continue
        if key not in raw:
            if spec.required:
                raise SettingsError(f"settings: {name}: required")
            out[key] = spec.default
            continue
        out[key] = _check(name, _substitute(name, raw[key], spec), spec)
    return out


def _substitute(name: str, value: Any, spec: Field) -> Any:
    if isinstance(value, list):
        return [_substitute(name, v, Field(str)) for v in value]
    if not isinstance(value, str) or "{{" not in value:
        return value

    def repl(m: re.Match) -> str:
        kind, arg = m.group(1), m.group(2)
        if kind == "env":
            if arg not in os.environ:
                raise SettingsError(f"settings: {name}: environment variable {arg} is not set")
            text = os.environ[arg]
        else:
            try:
                text = Path(arg).read_text()
            except OSError as exc:
                raise SettingsError(f"settings: {name}: cannot read file {arg}: {exc.strerror}") from None
        for flt in (f.strip() for f in m.group(3).split("|") if f.strip()):
            text = _apply_filter(name, flt, text)
        return text

    result = _SUBST.sub(repl, value)
    if spec.type is bool and result.strip().lower() in ("true", "false"):
        return result.strip().lower() == "true"
    if spec.type is int and re.fullmatch(r"\s*-?\d+\s*", result):
        return int(result)
    return result


def _apply_filter(name: str, flt: str, text: str) -> str:
    import base64
    import binascii

    if flt == "base64decode":
        try:
            return base64.b64decode(text.strip(), validate=False).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise SettingsError(f"settings: {name}: base64decode: not base64 text") from None
    if flt == "base64encode":
        return base64.b64encode(text.encode()).decode()
    if flt == "strip":
        return text.strip()
    raise SettingsError(f"settings: {name}: unknown filter {flt!r} (known: {', '.join(_FILTERS)})")


def _check(name: str, value: Any, spec: Field) -> Any:
    if value is None:
        if spec.nullable:
            return None
        raise SettingsError(f"settings: {name}: must not be null")
    expected = spec.type
    ok = isinstance(value, expected) and not (expected is int and isinstance(value, bool))
    if not ok:
        label = {str: "a string", bool: "a boolean", int: "an integer", list: "a list"}.get(expected, str(expected))
        raise SettingsError(f"settings: {name}: expected {label}, got {json.dumps(value)[:40]}")
    if spec.check and (msg := spec.check(value)):
        raise SettingsError(f"settings: {name}: {msg}")
    return value
