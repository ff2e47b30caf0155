"""The Automated Device Enrollment (ABM/ASM "DEP") API client: sessions, devices, profiles.

Authentication is OAuth 1.0a (HMAC-SHA1, signed by oauthlib) on ``GET /session`` only; the
``auth_session_token`` it returns goes in ``X-ADM-Auth-Session`` on every other call, and
any new value Apple returns in that header is adopted (Apple rotates it). A 401
(``UNAUTHORIZED``: expired) or 403 ``FORBIDDEN`` (a session Apple does not know) opens a
new session once and retries. 429 and 503 are retried after ``Retry-After`` (capped,
a bounded number of times, never remembered past the call). Errors surface as
``ABMError`` with Apple's code (``EXHAUSTED_CURSOR``, ``T_C_NOT_SIGNED``...).

This module returns data; the jobs persist it (``tasks/dep.py``).
"""
from __future__ import annotations

import json
import logging
import ssl
import time
from dataclasses import dataclass
from typing import Any, Callable

import httpx
from oauthlib.oauth1 import SIGNATURE_HMAC_SHA1, Client as OAuthClient

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://mdmenrollment.apple.com"
PROTOCOL_VERSION = "7"
USER_AGENT = "espalier/0.1"
MAX_PAGE = 1000  # Apple's maximum for fetch and sync, whatever /account says
CURSOR_ERRORS = ("EXHAUSTED_CURSOR", "EXPIRED_CURSOR", "INVALID_CURSOR")


class ABMError(Exception):
    """A call Apple refused (``status``, ``code``) or that could not be made (``status`` 0)."""

    def __init__(self, status: int, code: str, message: str = ""):
        super().__init__(f"ABM {status} {code}{': ' + message if message else ''}")
        self.status, self.code = status, code

    @property
    def is_cursor_error(self) -> bool:
        return self.status == 400 and self.code in CURSOR_ERRORS


@dataclass(frozen=True)
class OAuthCredentials:
    consumer_key: str
    consumer_secret: str
    access_token: str
    access_secret: str


@dataclass
class Page:
    cursor: str | None
    devices: list[dict]
    more_to_follow: bool
    fetched_until: str | None = None


def _code(response: httpx.Response) -> tuple[str, str]:
    """Apple's error code: a JSON ``code``/``error`` field, or the plain text body."""
    text = response.text[:500].strip()
    try:
        data = json.loads(text)
    except ValueError:
        return (text.split()[0] if text else str(response.status_code)), ""
    if isinstance(data, dict):
        return str(data.get("code") or data.get("error") or response.status_code), str(data.get("message") or "")
    return str(response.status_code), ""


class ABMClient:
    def __init__(self, credentials: OAuthCredentials, *, base_url: str = DEFAULT_BASE_URL, verify: str | bool = True,
                 session_token: str | None = None, timeout: float = 30.0, max_retries: int = 3,
                 max_retry_after: float = 60.0, sleep: Callable[[float], None] = time.sleep,
                 transport: httpx.BaseTransport | None = None):
        self.credentials = credentials
        self.base_url = base_url.rstrip("/")
        self.session_token = session_token
        self.max_retries, self.max_retry_after, self.sleep = max_retries, max_retry_after, sleep
        self.limits: dict[str, int] = {}  # uri -> maximum page size, from /account
        if isinstance(verify, str):  # a CA bundle file (a test ABM, a TLS-inspecting proxy)
            verify = ssl.create_default_context(cafile=verify)
        self._http = httpx.Client(verify=verify, timeout=timeout, transport=transport,
                                  headers={"User-Agent": USER_AGENT, "X-Server-Protocol-Version": PROTOCOL_VERSION})

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ABMClient:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # -- transport --------------------------------------------------------------------------

    def _send(self, method: str, url: str, **kwargs) -> httpx.Response:
        """One call, retried on 429/503 after Retry-After (bounded); transport errors are ABMError(0)."""
        for attempt in range(self.max_retries + 1):
            try:
                response = self._http.request(method, url, **kwargs)
            except httpx.HTTPError as exc:
                raise ABMError(0, type(exc).__name__, str(exc)[:200]) from None
            if response.status_code not in (429, 503) or attempt == self.max_retries:
                return response
            wait = self._retry_after(response)
            log.info("ABM %s %s: %s, retrying in %.0f s", method, url, response.status_code, wait)
            self.sleep(wait)
        raise AssertionError("unreachable")

    def _retry_after(self, response: httpx.Response) -> float:
        value = response.headers.get("Retry-After", "")
        try:
            seconds = float(value)
        except ValueError:
            seconds = 5.0  # an HTTP date, or nothing: a short pause
        return max(0.0, min(seconds, self.max_retry_after))

    def open_session(self) -> str:
        url = f"{self.base_url}/session"
        c = self.credentials
        signer = OAuthClient(c.consumer_key, client_secret=c.consumer_secret, resource_owner_key=c.access_token,
                             resource_owner_secret=c.access_secret, signature_method=SIGNATURE_HMAC_SHA1)
        _, headers, _ = signer.sign(url, http_method="GET")
        response = self._send("GET", url, headers=headers)
        if response.status_code != 200:
            raise ABMError(response.status_code, *_code(response))
        try:
            self.session_token = response.json()["auth_session_token"]
        except (ValueError, KeyError, TypeError):
            raise ABMError(response.status_code, "BAD_SESSION_RESPONSE") from None
        return self.session_token

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """JSON in and out, with the session: opened when missing, renewed once on 401/403 FORBIDDEN."""
        for renewed in (False, True):
            if self.session_token is None:
                self.open_session()
            headers = {"X-ADM-Auth-Session": self.session_token}
            content = None
            if body is not None:
                headers["Content-Type"] = "application/json;charset=UTF8"
                content = json.dumps(body).encode()
            response = self._send(method, f"{self.base_url}{path}", headers=headers, content=content)
            if new := response.headers.get("X-ADM-Auth-Session"):
                self.session_token = new
            if response.status_code == 200:
                try:
                    return response.json()
                except ValueError:
                    raise ABMError(200, "BAD_JSON") from None
            code, message = _code(response)
            if not renewed and (response.status_code == 401 or (response.status_code == 403 and code == "FORBIDDEN")):
                self.session_token = None
                continue
            raise ABMError(response.status_code, code, message)
        raise AssertionError("unreachable")

    # -- endpoints ------------------------------------------------------------------------------

    def account(self) -> dict:
        data = self.call("GET", "/account")
        for url in data.get("urls") or []:
            try:
                self.limits[url["uri"]] = int(url["limit"]["maximum"])
            except (KeyError, TypeError, ValueError):
                continue
        return data

    def page_size(self, uri: str, wanted: int = MAX_PAGE) -> int:
        return max(1, min(wanted, self.limits.get(uri, MAX_PAGE), MAX_PAGE))

    def _page(self, data: dict) -> Page:
        return Page(data.get("cursor"), list(data.get("devices") or []), bool(data.get("more_to_follow")),
                    data.get("fetched_until"))

    def fetch_devices(self, cursor: str | None = None, limit: int = MAX_PAGE) -> Page:
        body: dict[str, Any] = {"limit": self.page_size("/server/devices", limit)}
        if cursor:
            body["cursor"] = cursor
        return self._page(self.call("POST", "/server/devices", body))

    def sync_devices(self, cursor: str, limit: int = MAX_PAGE) -> Page:
        return self._page(self.call("POST", "/devices/sync",
                                    {"cursor": cursor, "limit": self.page_size("/devices/sync", limit)}))

    def get_devices(self, serials: list[str]) -> dict[str, dict]:
        return self.call("POST", "/devices", {"devices": serials}).get("devices") or {}

    def define_profile(self, profile: dict) -> dict:
        return self.call("POST", "/profile", profile)

    def assign_profile(self, profile_uuid: str, serials: list[str]) -> dict:
        if len(serials) > MAX_PAGE:
            raise ValueError(f"at most {MAX_PAGE} devices per assignment")
        return self.call("POST", "/profile/devices", {"profile_uuid": profile_uuid, "devices": serials})

    def disown_devices(self, serials: list[str]) -> dict[str, str]:
        if len(serials) > MAX_PAGE:
            raise ValueError(f"at most {MAX_PAGE} devices per call")
        return self.call("POST", "/devices/disown", {"devices": serials}).get("devices") or {}


def client_for(conf: dict, credentials: OAuthCredentials) -> ABMClient:
    """A client as the ``apps["espalier.mdm"]["abm"]`` settings section says (base URL, CA bundle)."""
    return ABMClient(credentials, base_url=conf["base_url"], verify=conf["ca_file"] or True)
