"""HTTP: device-facing endpoints (device.py), the operator API (api/), liveness (health.py).

Views read the process's runtime from their app with ``runtime()`` and hand services and
the protocol core what they need; nothing below the views looks it up.
"""
from __future__ import annotations

from flask import current_app

from espalier.runtime import Runtime


def runtime() -> Runtime:
    return current_app.extensions["espalier"]
