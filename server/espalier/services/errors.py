"""Typed service errors; the web layer maps them to statuses in one place."""
from __future__ import annotations


class ServiceError(Exception):
    status = 400

    def __init__(self, detail: str, errors: dict[str, list[str]] | None = None):
        super().__init__(detail)
        self.detail = detail
        self.errors = errors


class NotFound(ServiceError):
    status = 404


class Conflict(ServiceError):
    """The request is fine but the stored state does not allow it."""

    status = 409


class Unavailable(ServiceError):
    """A service we depend on (Apple's) did not answer: try again later."""

    status = 503
