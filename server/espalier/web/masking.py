"""Secrets in URLs never reach a log line: enrollment links carry their secret in the path.

``mask`` rewrites ``/public/enroll/<secret>/...`` to ``/public/enroll/<first 4>…/...``; our own
log lines use it, and ``MaskingLogger`` applies it to gunicorn's access log.

``MaskingLogger`` also keeps the access log to what an operator reads (the ``access_log``
setting): with ``operator``, a device's check-in or connect is logged only when refused
(status >= 400); a fleet's answered check-ins would be most of the log and of its cost.
"""
from __future__ import annotations

import re

from gunicorn.glogging import Logger

_ENROLL = re.compile(r"(/public/enroll/|/public/mdm/dep_enrollments/)([^/?#\s]{4})[^/?#\s]*")
# a legacy profile URL: the device id and version stay, its key goes
_LEGACY_PROFILE = re.compile(r"(/public/mdm/legacy_profiles/[0-9]+\.[0-9a-f-]{36}\.)[^/?#\s]*")


def mask(text: str) -> str:
    return _LEGACY_PROFILE.sub(r"\1…", _ENROLL.sub(r"\1\2…", text))


DEVICE_ROUTES = frozenset(("/mdm/checkin", "/mdm/connect"))


class MaskingLogger(Logger):
    """gunicorn's logger with enrollment secrets masked in the request line and path."""

    mode = "operator"  # the access_log setting (use_access_log), read at each request

    def access(self, resp, req, environ, request_time):
        if self.mode == "off" or (self.mode == "operator" and environ.get("PATH_INFO") in DEVICE_ROUTES
                                  and (resp.status_code or 0) < 400):
            return
        super().access(resp, req, environ, request_time)

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("r", "U", "{raw_uri}e", "{path_info}e"):
            if isinstance(atoms.get(key), str):
                atoms[key] = mask(atoms[key])
        return atoms


def use_access_log(mode: str) -> None:
    """Apply the ``access_log`` setting to gunicorn's access log, in whichever process loads the
    app (``espalier serve``'s, or a worker of a gunicorn started with ``espalier.wsgi:make()``)."""
    MaskingLogger.mode = mode
