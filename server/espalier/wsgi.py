"""WSGI entry point for gunicorn: `gunicorn 'espalier.wsgi:make()'` with ESPALIER_SETTINGS set."""
from __future__ import annotations

import os

from flask import Flask

from espalier.app import create_app
from espalier.settings import load


def make() -> Flask:
    return create_app(load(os.environ.get("ESPALIER_SETTINGS")))
