"""Whether a blueprint artifact or an artifact version applies to a device (Zentral's rules).

Platform switch and OS bounds (minimum included, maximum excluded), excluded tags, then
shards: the device's shard for an artifact is a hash of the artifact and the device, the
same on every server and every run; it is in scope below the item's default shard, or
below the largest shard of its tags that the item names.
"""
from __future__ import annotations

import hashlib
import re

_NUMBERS = re.compile(r"\d+")


def comparable_os_version(version: str | None) -> tuple[int, int, int]:
    parts = [int(n) for n in _NUMBERS.findall(version or "")[:3]]
    return tuple(parts + [0] * (3 - len(parts)))  # type: ignore[return-value]


def shard(artifact_id: str, device_key: str, modulo: int) -> int:
    digest = hashlib.sha256(f"{artifact_id}:{device_key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % modulo


def has_tag_filters(item) -> bool:
    return bool(item.excluded_tags or item.tag_shards)


def in_scope(item, artifact_id: str, platform: str | None, os_version: str | None, device_key: str,
             tags: set[int]) -> bool:
    """``item``: a BlueprintArtifact or an ArtifactVersion (both have the FilteredItem fields)."""
    if not platform:
        return False
    field = platform.lower()
    if not getattr(item, field, False):
        return False
    current = comparable_os_version(os_version)
    low, high = getattr(item, f"{field}_min_version"), getattr(item, f"{field}_max_version")
    if low and current < comparable_os_version(low):
        return False
    if high and current >= comparable_os_version(high):
        return False
    if tags and any(t in tags for t in item.excluded_tags or ()):
        return False
    tag_limits = [ts["shard"] for ts in item.tag_shards or () if ts["tag"] in tags]
    limit = max(tag_limits) if tag_limits else item.default_shard
    return shard(artifact_id, device_key, item.shard_modulo) < limit


def newest_in_scope(candidates, device, key: str, tags: set[int]) -> dict[str, tuple]:
    """artifact id -> (artifact, newest in-scope version, its content row), from rows of
    (blueprint artifact, artifact, version, content) ordered by blueprint artifact then
    version descending; an artifact whose blueprint item is out of scope gets nothing."""
    out: dict[str, tuple] = {}
    rejected: set[str] = set()
    for ba, artifact, version, content in candidates:
        if artifact.id in out or artifact.id in rejected:
            continue
        if device.platform not in (artifact.platforms or ()) or not in_scope(
                ba, artifact.id, device.platform, device.os_version, key, tags):
            rejected.add(artifact.id)
            continue
        if in_scope(version, artifact.id, device.platform, device.os_version, key, tags):
            out[artifact.id] = (artifact, version, content)
    return out
