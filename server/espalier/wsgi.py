"""WSGI entry point for gunicorn: `gunicorn 'espalier.wsgi:make()'` with ESPALIER_SETTINGS set."""
from __future__ import annotations

import os

from flask import Flask

from espalier.app import create_app
from espalier.runtime import configure_logging
from espalier.settings import load
from espalier.web.masking import use_access_log


def make() -> Flask:
    settings = load(os.environ.get("ESPALIER_SETTINGS"))
    configure_logging(settings["log_level"])
    use_access_log(settings["access_log"])
    return create_app(settings)
