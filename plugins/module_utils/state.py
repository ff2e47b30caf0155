# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the espalier.mdm collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.

"""Desired versus current state: normalise, compare, diff, and write only outside check mode."""

from __future__ import annotations

_TRUE = frozenset(('true', 'yes', 'on', '1'))
_FALSE = frozenset(('false', 'no', 'off', '0'))


def normalise(value):
    """A comparable form of an API or user value.

    Dicts and lists are normalised recursively, boolean-looking strings become
    booleans, surrounding whitespace is dropped and empty strings become None.
    """
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [normalise(v) for v in value]
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.lower() in _TRUE:
            return True
        if stripped.lower() in _FALSE:
            return False
        return stripped or None
    return value


def changed_keys(current, desired):
    """Keys of desired (None values mean "not managed") that differ from current."""
    return sorted(
        key for key, want in desired.items()
        if want is not None and normalise(want) != normalise((current or {}).get(key))
    )


def build_diff(before, after, keys=None):
    """A diff {before, after} restricted to keys (default: every key that differs)."""
    before = before or {}
    after = after or {}
    if keys is None:
        keys = sorted(k for k in set(before) | set(after) if normalise(before.get(k)) != normalise(after.get(k)))
    return dict(before={k: before.get(k) for k in keys}, after={k: after.get(k) for k in keys})


class Outcome:
    """What converge() decided: changed, before/after views, the diff and the apply() result."""

    def __init__(self, changed, before, after, diff, applied=None):
        self.changed = changed
        self.before = before
        self.after = after
        self.diff = diff
        self.applied = applied


def converge(module, current, desired, apply, predict, view=None, diff_keys=None):
    """Bring current to desired.

    current: the view of the object as read from the API.
    desired: {key: value}; None values are not managed.
    apply(): performs the write and returns the new object (only called when
    changed and not in check mode).
    predict(): the object as it would be after apply(), used in check mode.
    view(obj): the comparable view of an object (default: the object itself).
    diff_keys: keys shown in the diff (default: the changed ones).
    """
    view = view or (lambda obj: obj)
    before = view(current)
    keys = changed_keys(before, desired)
    if not keys:
        return Outcome(False, before, before, build_diff(before, before, diff_keys or []), current)
    applied = predict() if module.check_mode else apply()
    after = view(applied)
    return Outcome(True, before, after, build_diff(before, after, diff_keys or keys), applied)
