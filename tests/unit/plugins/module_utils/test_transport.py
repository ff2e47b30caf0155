# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

"""The urllib transport against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import http.server
import json
import threading

import pytest

from ansible_collections.espalier.mdm.plugins.module_utils import transport
from ansible_collections.espalier.mdm.plugins.module_utils.transport import TransportError, UrllibTransport


class _Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _answer(self):
        length = int(self.headers.get('Content-Length') or 0)
        body = self.rfile.read(length) if length else b''
        self.server.seen.append((self.command, self.path, dict(self.headers), body))
        if self.path.startswith('/moved/'):
            self.send_response(301)
            self.send_header('Location', '/api/' + self.path[len('/moved/'):])
            self.send_header('Content-Length', '0')
            self.end_headers()
            return
        status = 429 if self.path.startswith('/slow/') else 200
        payload = json.dumps({'detail': 'slow'} if status == 429 else {'path': self.path}).encode()
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Retry-After', '3')
        self.send_header('Content-Length', str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = _answer


@pytest.fixture
def server():
    httpd = http.server.HTTPServer(('127.0.0.1', 0), _Handler)
    httpd.seen = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def _url(server, path):
    return 'http://127.0.0.1:%d%s' % (server.server_address[1], path)


def test_sends_method_headers_and_body_and_returns_the_answer(server):
    status, headers, body = UrllibTransport()('POST', _url(server, '/api/x/'), {'Authorization': 'Token t'}, b'{}')
    assert (status, json.loads(body)) == (200, {'path': '/api/x/'})
    method, path, sent, data = server.seen[0]
    assert (method, path, data, sent['Authorization']) == ('POST', '/api/x/', b'{}', 'Token t')
    assert sent['User-Agent'] == 'espalier.mdm-ansible'


def test_http_errors_are_statuses_with_their_headers(server):
    status, headers, body = UrllibTransport()('GET', _url(server, '/slow/'), {}, None)
    assert (status, headers['Retry-After'], json.loads(body)) == (429, '3', {'detail': 'slow'})


def test_reads_follow_redirects_and_writes_do_not(server):
    status, headers, body = UrllibTransport()('GET', _url(server, '/moved/y/'), {}, None)
    assert (status, json.loads(body)) == (200, {'path': '/api/y/'})
    status, headers, body = UrllibTransport()('POST', _url(server, '/moved/y/'), {}, b'{}')
    assert status == 301
    assert [s[0] for s in server.seen] == ['GET', 'GET', 'POST']


def test_a_refused_connection_says_so():
    with pytest.raises(TransportError, match='cannot reach the server'):
        UrllibTransport(timeout=2)('GET', 'http://127.0.0.1:9/', {}, None)


def test_https_loads_the_ca_store_once_per_process_and_settings(monkeypatch):
    made = []
    monkeypatch.setattr(transport, '_TLS_CONTEXTS', {})
    real = transport.ssl.create_default_context

    def spy(cafile=None):
        made.append(cafile)
        return real(cafile=cafile)

    monkeypatch.setattr(transport.ssl, 'create_default_context', spy)
    first = transport.tls_context(True, None)
    assert transport.tls_context(True, None) is first
    unverified = transport.tls_context(False, None)
    assert unverified.verify_mode == transport.ssl.CERT_NONE and not unverified.check_hostname
    assert made == [None]


def test_an_unreadable_ca_path_is_named(monkeypatch):
    monkeypatch.setattr(transport, '_TLS_CONTEXTS', {})
    with pytest.raises(TransportError, match='cannot set up TLS with ca_path /nonexistent/ca.pem'):
        UrllibTransport(ca_path='/nonexistent/ca.pem')('GET', 'https://127.0.0.1:9/', {}, None)


def test_an_http_url_redirected_to_https_says_so(monkeypatch):
    class Opener:
        def open(self, request, timeout=None):
            raise transport.URLError(transport.ssl.SSLCertVerificationError(1, 'certificate verify failed'))

    monkeypatch.setattr(transport.urllib.request, 'build_opener', lambda *handlers: Opener())
    with pytest.raises(TransportError, match='redirected to HTTPS: set url to its https:// address'):
        UrllibTransport()('GET', 'http://h.test/', {}, None)
