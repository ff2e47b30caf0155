# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the espalier.mdm collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.

"""One HTTP request to the Espalier API, with the standard library's urllib.

Every module run is a new Python process, so what the HTTP layer imports is paid on every
task: the standard library's urllib costs about a third of ansible.module_utils.urls (which
also imports cryptography and the email MIME classes for features this API does not use).
Proxies come from the usual environment variables (https_proxy, no_proxy), as with urllib.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import urllib.request
from urllib.error import HTTPError, URLError

USER_AGENT = 'espalier.mdm-ansible'
SAFE_REDIRECT_METHODS = frozenset(('GET', 'HEAD'))


class TransportError(Exception):
    """The request got no HTTP answer (connection, TLS or timeout): the message says why."""


class _SafeRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects of reads only; a redirected write is answered with its 30x status."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        if req.get_method() not in SAFE_REDIRECT_METHODS:
            return None
        return super().redirect_request(req, fp, code, msg, headers, newurl)


# Loading the CA store takes 0.1 to 0.3 s: once per process and settings.
_TLS_CONTEXTS = {}


def tls_context(validate_certs, ca_path):
    """The TLS context of these settings: the system CA store (or ca_path), or no verification."""
    key = (bool(validate_certs), ca_path)
    if key not in _TLS_CONTEXTS:
        if validate_certs:
            context = ssl.create_default_context(cafile=ca_path)
        else:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        _TLS_CONTEXTS[key] = context
    return _TLS_CONTEXTS[key]


def _plain_http_context():
    """For http:// URLs: loads no CA store and trusts no CA, so an HTTPS redirect fails and says so."""
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


class UrllibTransport:
    """Send one request; return (status, headers, body) for any HTTP answer, raise TransportError otherwise."""

    def __init__(self, validate_certs=True, ca_path=None, timeout=30):
        self._validate_certs = validate_certs
        self._ca_path = ca_path
        self._timeout = timeout
        self._openers = {}

    def _opener(self, plain):
        if plain not in self._openers:
            if plain:
                context = _plain_http_context()
            else:
                try:
                    context = tls_context(self._validate_certs, self._ca_path)
                except (OSError, ValueError) as ex:
                    raise TransportError('cannot set up TLS%s: %s' % (
                        ' with ca_path %s' % self._ca_path if self._ca_path else '', ex)) from None
            self._openers[plain] = urllib.request.build_opener(
                urllib.request.HTTPSHandler(context=context), _SafeRedirects())
        return self._openers[plain]

    def __call__(self, method, url, headers, body):
        plain = not url.lower().startswith('https:')
        request = urllib.request.Request(url, data=body, headers=dict(headers, **{'User-Agent': USER_AGENT}),
                                         method=method)
        opener = self._opener(plain)
        try:
            with opener.open(request, timeout=self._timeout) as response:
                return response.status, dict(response.headers.items()), response.read()
        except HTTPError as ex:
            try:
                payload = ex.read()
            except (OSError, http.client.HTTPException):
                payload = b''
            return ex.code, dict(ex.headers.items()) if ex.headers else {}, payload
        except (URLError, socket.timeout, ConnectionError, OSError, http.client.HTTPException) as ex:
            reason = getattr(ex, 'reason', None) or ex
            if plain and isinstance(reason, ssl.SSLError):
                raise TransportError('the server redirected to HTTPS: set url to its https:// address') from None
            raise TransportError('cannot reach the server: %s' % reason) from None
