"""Secrets in URLs never reach a log line: enrollment links carry their secret in the path.

``mask`` rewrites ``/public/enroll/<secret>/...`` to ``/public/enroll/<first 4>…/...``; our own
log lines use it, and ``MaskingLogger`` applies it to gunicorn's access log.
"""
from __future__ import annotations

import re

from gunicorn.glogging import Logger

_ENROLL = re.compile(r"(/public/enroll/)([^/?#\s]{4})[^/?#\s]*")


def mask(text: str) -> str:
    return _ENROLL.sub(r"\1\2…", text)


class MaskingLogger(Logger):
    """gunicorn's logger with enrollment secrets masked in the request line and path."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("r", "U", "{raw_uri}e", "{path_info}e"):
            if isinstance(atoms.get(key), str):
                atoms[key] = mask(atoms[key])
        return atoms
