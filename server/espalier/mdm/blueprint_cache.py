"""Blueprints as of a convergence epoch, kept per process for Idle connects.

Every change to a blueprint or to a FileVault or recovery password configuration bumps the
convergence epoch (models/convergence_epoch.py), so a blueprint read at epoch N is still
the blueprint while a request reads N. An Idle connect that read N takes it from here,
merged into its session without a statement (``Session.merge(load=False)``), instead of
reading it again. Entries are detached copies, never an object of a request's session
(whose rollback would expire it under other requests); an entry can only be newer than its
epoch (read after it), never older.
"""
from __future__ import annotations

import threading

from sqlalchemy import inspect
from sqlalchemy.orm import Session, make_transient_to_detached

from espalier.models import Blueprint

_MISSING = object()


class BlueprintCache:
    def __init__(self):
        self._epoch: int | None = None
        self._entries: dict[int, Blueprint | None] = {}
        self._lock = threading.Lock()

    def get(self, s: Session, blueprint_id: int, epoch: int) -> Blueprint | None:
        """The blueprint as of ``epoch`` (the request's), in session ``s``."""
        found = self._entries.get(blueprint_id, _MISSING) if self._epoch == epoch else _MISSING
        if found is _MISSING:
            loaded = s.get(Blueprint, blueprint_id)
            self._keep(blueprint_id, epoch, None if loaded is None else _detached_copy(loaded))
            return loaded
        return None if found is None else s.merge(found, load=False)

    def _keep(self, blueprint_id: int, epoch: int, entry: Blueprint | None) -> None:
        with self._lock:
            if self._epoch is None or epoch > self._epoch:
                self._epoch, self._entries = epoch, {}
            if epoch == self._epoch:
                self._entries[blueprint_id] = entry


def _columns(obj) -> dict:
    return {a.key: getattr(obj, a.key) for a in inspect(type(obj)).column_attrs}


def _detached(cls, values: dict):
    copy = cls(**values)
    make_transient_to_detached(copy)  # as if loaded: no history, mergeable with load=False
    return copy


def _detached_copy(blueprint: Blueprint) -> Blueprint:
    related = {name: None if (obj := getattr(blueprint, name)) is None else _detached(type(obj), _columns(obj))
               for name in ("filevault_config", "recovery_password_config")}
    return _detached(Blueprint, {**_columns(blueprint), **related})
