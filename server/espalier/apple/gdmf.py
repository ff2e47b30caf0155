"""Apple's software update catalogue: ``GET https://gdmf.apple.com/v2/pmv`` (PROTOCOL.md 11).

``fetch`` reads the feed over TLS verified against a bundle holding Apple Root CA (absent
from common bundles, shipped in ``apple/data``; never an unverified connection), bounded in
bytes and in total time. ``parse`` turns it into ``Entry`` rows as Zentral reads them:
``PublicAssetSets`` and ``PublicBackgroundSecurityImprovements`` are public, ``AssetSets``
(what MDM may enforce) are not; a version ``17.1`` has patch 0. A feed that is not the
expected shape raises ``FeedError`` as a whole: a half-read catalogue would delete the rest.
"""
from __future__ import annotations

import json
import re
import ssl
import time
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path

import httpx

APPLE_ROOT_CA = Path(__file__).parent / "data" / "apple_root_ca.pem"
SETS = (("PublicAssetSets", True), ("AssetSets", False), ("PublicBackgroundSecurityImprovements", True))
MAX_ENTRIES = 20_000
MAX_DEVICE_IDS = 5_000  # per entry (an iOS release lists a few hundred)
_VERSION = re.compile(r"(\d{1,4})(?:\.(\d{1,4}))?(?:\.(\d{1,4}))?")
_TOKEN = re.compile(r"[A-Za-z0-9_.,()+-]{1,32}")  # builds, device ids, platforms, RSR extras


class FeedError(Exception):
    """The feed could not be read (network, TLS, size, time) or is not the catalogue's shape."""


@dataclass(frozen=True)
class Entry:
    platform: str
    major: int
    minor: int
    patch: int
    extra: str
    prerequisite_build: str
    build: str
    public: bool
    posting_date: date
    expiration_date: date | None
    device_ids: frozenset[str]

    @property
    def key(self) -> tuple:
        """Every attribute but the device ids: an entry that changes is another entry (as Zentral)."""
        return (self.platform, self.major, self.minor, self.patch, self.extra, self.prerequisite_build, self.build,
                self.public, self.posting_date, self.expiration_date)


def ssl_context(ca_bundle: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca_bundle or APPLE_ROOT_CA))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def fetch(url: str, ca_bundle: str | None = None, *, timeout: float = 60, max_bytes: int = 32 * 1024 * 1024) -> dict:
    """The feed's JSON; ``FeedError`` past ``max_bytes``, past ``timeout`` seconds in all, on
    a TLS failure, a non-200 answer or a body that is not a JSON object."""
    deadline = time.monotonic() + timeout
    try:
        context = ssl_context(ca_bundle)
    except (OSError, ssl.SSLError) as exc:
        raise FeedError(f"cannot load the CA bundle {ca_bundle}: {exc}") from None
    chunks, size = [], 0
    try:
        with httpx.Client(verify=context, timeout=httpx.Timeout(timeout), follow_redirects=False,
                          trust_env=False) as client:
            with client.stream("GET", url, headers={"Accept": "application/json"}) as response:
                if response.status_code != 200:
                    raise FeedError(f"{url} answered {response.status_code}")
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > max_bytes:
                    raise FeedError(f"the feed is larger than {max_bytes} bytes")
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        raise FeedError(f"the feed is larger than {max_bytes} bytes")
                    if time.monotonic() > deadline:
                        raise FeedError(f"the feed took longer than {timeout:g} s")
                    chunks.append(chunk)
    except httpx.HTTPError as exc:
        raise FeedError(f"cannot fetch {url}: {type(exc).__name__}: {exc}"[:500]) from None
    try:
        data = json.loads(b"".join(chunks))
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise FeedError("the feed is not JSON") from None
    if not isinstance(data, dict):
        raise FeedError("the feed is not a JSON object")
    return data


def _date(value, what: str) -> date:
    if not isinstance(value, str):
        raise FeedError(f"{what}: not a date")
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise FeedError(f"{what}: not a YYYY-MM-DD date: {value[:32]!r}") from None


def _token(value, what: str, *, required: bool = False) -> str:
    if value is None or value == "":
        if required:
            raise FeedError(f"{what}: missing")
        return ""
    if not isinstance(value, str) or not _TOKEN.fullmatch(value):
        raise FeedError(f"{what}: not a short identifier")
    return value


def _entry(platform: str, public: bool, set_name: str, info) -> Entry:
    what = f"{set_name}.{platform}"
    if not isinstance(info, dict):
        raise FeedError(f"{what}: an entry is not an object")
    version = info.get("ProductVersion")
    match = _VERSION.fullmatch(version) if isinstance(version, str) else None
    if match is None:
        raise FeedError(f"{what}: ProductVersion is not a version")
    devices = info.get("SupportedDevices")
    if not isinstance(devices, list) or len(devices) > MAX_DEVICE_IDS:
        raise FeedError(f"{what} {version}: SupportedDevices is not a list of ids")
    expiration = info.get("ExpirationDate")
    background = set_name == "PublicBackgroundSecurityImprovements"
    return Entry(
        platform=platform, major=int(match[1]), minor=int(match[2] or 0), patch=int(match[3] or 0),
        extra=_token(info.get("ProductVersionExtra"), f"{what} ProductVersionExtra", required=background)
        if background else "",
        prerequisite_build=_token(info.get("PrerequisiteBuild"), f"{what} PrerequisiteBuild", required=background)
        if background else "",
        build=_token(info.get("Build"), f"{what} Build"), public=public,
        posting_date=_date(info.get("PostingDate"), f"{what} {version} PostingDate"),
        expiration_date=_date(expiration, f"{what} {version} ExpirationDate") if expiration else None,
        device_ids=frozenset(_token(d, f"{what} {version} SupportedDevices", required=True) for d in devices),
    )


def parse(feed: dict) -> list[Entry]:
    """Every entry of the feed's sets; the same entry listed twice is one (its device ids merged)."""
    if not isinstance(feed, dict) or not any(isinstance(feed.get(name), dict) for name, _ in SETS):
        raise FeedError("the feed has none of PublicAssetSets, AssetSets")
    entries: dict[tuple, Entry] = {}
    for set_name, public in SETS:
        products = feed.get(set_name)
        if products is None:
            continue
        if not isinstance(products, dict):
            raise FeedError(f"{set_name}: not an object")
        for platform, infos in products.items():
            _token(platform, f"{set_name} platform", required=True)
            if not isinstance(infos, list):
                raise FeedError(f"{set_name}.{platform}: not a list")
            for info in infos:
                entry = _entry(platform, public, set_name, info)
                previous = entries.get(entry.key)
                if previous is not None:
                    entry = replace(previous, device_ids=previous.device_ids | entry.device_ids)
                entries[entry.key] = entry
                if len(entries) > MAX_ENTRIES:
                    raise FeedError(f"the feed has more than {MAX_ENTRIES} entries")
    return list(entries.values())
