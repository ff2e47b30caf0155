"""Apple's Apps and Books service (v2): one client per location's sToken.

It speaks the wire and returns Apple's JSON; jobs and services persist what they need.
Authentication is ``Authorization: Bearer <the .vpptoken content>``. Errors come as
``{"errorNumber", "errorMessage"}``: a 401, or errorNumber 9622, means the token is not
valid any more (``InvalidToken``); a 429 carries ``Retry-After`` (``Throttled``: the
client waits up to ``max_wait`` seconds in all and tries again, then raises).
Listings are paged; ``iter_pages`` raises ``VersionChanged`` when the ``versionId`` moves
between two pages (a write happened while we read: start again).
"""
from __future__ import annotations

import logging
import ssl
import time
from dataclasses import dataclass
from typing import Any, Iterator

import httpx

log = logging.getLogger(__name__)

APPLE_URL = "https://vpp.itunes.apple.com/mdm/v2/"
INVALID_TOKEN_ERRORS = frozenset({9622})
NOTIFICATION_TYPES = ("ASSET_MANAGEMENT", "ASSET_COUNT")
MAX_PAGES = 100_000  # a runaway pager stops here


class AppsBooksError(Exception):
    def __init__(self, status: int, error_number: int | None, message: str):
        super().__init__(f"Apps and Books {status}" + (f" error {error_number}" if error_number else "") +
                         f": {message}")
        self.status, self.error_number, self.message = status, error_number, message


class InvalidToken(AppsBooksError):
    """The sToken was refused (expired, revoked, or replaced by a newer download)."""


class Throttled(AppsBooksError):
    def __init__(self, retry_after: float):
        super().__init__(429, None, f"throttled, retry after {retry_after:g} s")
        self.retry_after = retry_after


class Unreachable(AppsBooksError):
    """No answer (connection refused, TLS failure, timeout)."""

    def __init__(self, message: str):
        super().__init__(0, None, f"no answer from the service ({message})")


class VersionChanged(Exception):
    """The listing changed while it was being read (its versionId moved)."""


@dataclass(frozen=True)
class ClientSettings:
    base_url: str = APPLE_URL
    verify: str | bool = True  # a CA file to trust a test service
    timeout: float = 30.0
    max_wait: float = 120.0  # total Retry-After waits per request before giving up


class AppsBooksClient:
    def __init__(self, token: str, settings: ClientSettings = ClientSettings(), user_agent: str = "Espalier"):
        self.settings = settings
        verify = ssl.create_default_context(cafile=settings.verify) if isinstance(settings.verify, str) \
            else settings.verify
        self._http = httpx.Client(base_url=settings.base_url, verify=verify, timeout=settings.timeout,
                                  headers={"Authorization": f"Bearer {token}", "User-Agent": user_agent})
        self.requests = 0

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> AppsBooksClient:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def request(self, method: str, path: str, params: dict | None = None, json: Any = None) -> dict:
        waited = 0.0
        while True:
            self.requests += 1
            try:
                resp = self._http.request(method, path, params=params, json=json)
            except httpx.TransportError as exc:  # down, unreachable, timed out: no answer to read
                raise Unreachable(f"{type(exc).__name__}: {exc}"[:300]) from None
            if resp.status_code == 429:
                retry_after = _retry_after(resp.headers.get("Retry-After"))
                if waited + retry_after > self.settings.max_wait:
                    raise Throttled(retry_after)
                log.info("Apps and Books throttled %s %s: waiting %.1f s", method, path, retry_after)
                time.sleep(retry_after)
                waited += retry_after
                continue
            try:
                data = resp.json()
            except ValueError:
                data = None
            if resp.status_code >= 400:
                raise _error(resp.status_code, data)
            if isinstance(data, dict) and data.get("errorNumber") in INVALID_TOKEN_ERRORS:
                raise _error(401, data)
            if not isinstance(data, dict):
                raise AppsBooksError(resp.status_code, None, "the answer is not a JSON object")
            return data

    # -- configuration --------------------------------------------------------------------

    def client_config(self) -> dict:
        return self.request("GET", "client/config")

    def claim(self, mdm_info: dict, notification_url: str, notification_auth_token: str,
              notification_types: tuple[str, ...] = NOTIFICATION_TYPES) -> dict:
        """Point the location at this server (``POST client/config``); Apple's new config."""
        return self.request("POST", "client/config", json={
            "mdmInfo": mdm_info, "notificationTypes": list(notification_types),
            "notificationUrl": notification_url, "notificationAuthToken": notification_auth_token})

    def service_config(self) -> dict:
        return self.request("GET", "service/config")

    # -- listings -------------------------------------------------------------------------

    def iter_pages(self, path: str, key: str, params: dict | None = None) -> Iterator[list[dict]]:
        """Each page's items; ``VersionChanged`` if a write happened between two pages."""
        version, index = None, 0
        for _ in range(MAX_PAGES):
            page = self.request("GET", path, params={**(params or {}), "pageIndex": index})
            if version is None:
                version = page.get("versionId")
            elif page.get("versionId") != version:
                raise VersionChanged(f"{path}: versionId {version} became {page.get('versionId')}")
            items = page.get(key) or []
            if not isinstance(items, list):
                raise AppsBooksError(200, None, f"{path}: {key} is not a list")
            yield items
            nxt = page.get("nextPageIndex")
            if nxt is None:
                return
            if not isinstance(nxt, int) or nxt != index + 1:
                raise AppsBooksError(200, None, f"{path}: nextPageIndex {nxt!r} after page {index}")
            index = nxt
        raise AppsBooksError(200, None, f"{path}: more than {MAX_PAGES} pages")

    # -- licences -------------------------------------------------------------------------

    def associate(self, assets: list[dict], serial_numbers: list[str]) -> dict:
        return self.request("POST", "assets/associate", json={"assets": assets, "serialNumbers": serial_numbers})

    def disassociate(self, assets: list[dict], serial_numbers: list[str]) -> dict:
        return self.request("POST", "assets/disassociate", json={"assets": assets, "serialNumbers": serial_numbers})

    def event_status(self, event_id: str) -> dict:
        return self.request("GET", "status", params={"eventId": event_id})


def _retry_after(value: str | None) -> float:
    try:
        return min(max(float(value), 0.0), 3600.0)
    except (TypeError, ValueError):
        return 5.0


def _error(status: int, data: Any) -> AppsBooksError:
    number = data.get("errorNumber") if isinstance(data, dict) else None
    message = str(data.get("errorMessage", "")) if isinstance(data, dict) else ""
    number = number if isinstance(number, int) else None
    cls = InvalidToken if status == 401 or number in INVALID_TOKEN_ERRORS else AppsBooksError
    return cls(status, number, message[:300] or "no message")
