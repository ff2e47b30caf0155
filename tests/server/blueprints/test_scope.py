"""The scope rules on their own: OS bounds, excluded tags, deterministic shards, tag shards."""
from __future__ import annotations

from types import SimpleNamespace

from espalier.mdm import scope


def item(**fields):
    values = {f"{p}{s}": "" for p in ("ios", "ipados", "macos", "tvos") for s in ("_min_version", "_max_version")}
    values.update(ios=False, ipados=False, macos=True, tvos=False, shard_modulo=100, default_shard=100,
                  excluded_tags=[], tag_shards=[])
    values.update(fields)
    return SimpleNamespace(**values)


def test_platform_and_os_bounds():
    assert scope.in_scope(item(), "a", "macOS", "14.2.1", "S", set())
    assert not scope.in_scope(item(), "a", "iOS", "17.0", "S", set())
    assert not scope.in_scope(item(), "a", None, "14.0", "S", set())
    assert scope.in_scope(item(macos_min_version="14.2"), "a", "macOS", "14.2", "S", set())
    assert not scope.in_scope(item(macos_min_version="14.2.1"), "a", "macOS", "14.2", "S", set())
    assert not scope.in_scope(item(macos_max_version="14"), "a", "macOS", "14.0.1", "S", set())
    assert scope.in_scope(item(macos_max_version="15"), "a", "macOS", "14.9", "S", set())
    assert scope.comparable_os_version("13.6.1 (22G313)") == (13, 6, 1)
    assert scope.comparable_os_version(None) == (0, 0, 0)


def test_excluded_tags():
    assert not scope.in_scope(item(excluded_tags=[3]), "a", "macOS", "14", "S", {1, 3})
    assert scope.in_scope(item(excluded_tags=[3]), "a", "macOS", "14", "S", {1})


def test_shards_are_deterministic_and_spread():
    shards = [scope.shard("artifact", f"SERIAL{i}", 10) for i in range(1000)]
    assert shards == [scope.shard("artifact", f"SERIAL{i}", 10) for i in range(1000)]
    assert set(shards) == set(range(10)) and max(shards.count(n) for n in range(10)) < 150
    half = [scope.in_scope(item(shard_modulo=10, default_shard=5), "artifact", "macOS", "14", f"SERIAL{i}", set())
            for i in range(1000)]
    assert 400 < sum(half) < 600
    assert sum(half) == sum(1 for s in shards if s < 5)


def test_tag_shards_widen_the_default():
    key = next(f"S{i}" for i in range(100) if scope.shard("a", f"S{i}", 10) == 7)
    narrow = item(shard_modulo=10, default_shard=0, tag_shards=[{"tag": 4, "shard": 8}])
    assert not scope.in_scope(narrow, "a", "macOS", "14", key, set())
    assert scope.in_scope(narrow, "a", "macOS", "14", key, {4})
    assert not scope.in_scope(item(shard_modulo=10, default_shard=0, tag_shards=[{"tag": 4, "shard": 7}]),
                              "a", "macOS", "14", key, {4})
