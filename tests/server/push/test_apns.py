"""APNsClient against the HTTP/2 fake APNs: wire format, outcomes, retries, connection reuse."""
from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
import time
from datetime import datetime, timezone

import pytest

from espalier.apple import apns
from espalier.apple.apns import APNsClient, APNsProtocolError, PushTarget
from fakes.apns import FakeAPNs
from fakes.push_certs import make_ca, make_push_cert

MAGIC = "7F2D1B9A-0C4E-4E0B-9C8F-2B6E1D3A5F00"


def token(n: int) -> str:
    return f"{n:064x}"


def targets(count: int, start: int = 0) -> list[PushTarget]:
    return [PushTarget(f"device-{n}", token(n), MAGIC) for n in range(start, start + count)]


@pytest.fixture(scope="module")
def ca():
    return make_ca("Stand-in Apple push CA")


@pytest.fixture(scope="module")
def ca_file(ca, tmp_path_factory):
    return ca.write_cert(tmp_path_factory.mktemp("apns") / "ca.pem")


@pytest.fixture(scope="module")
def push_cert(ca):
    return make_push_cert(ca)


@pytest.fixture
def start_fake(ca_file):
    fakes: list[FakeAPNs] = []

    def start(**options) -> FakeAPNs:
        fakes.append(FakeAPNs(ca_file=ca_file, **options).__enter__())
        return fakes[-1]

    yield start
    for fake in fakes:
        fake.__exit__(None, None, None)


@pytest.fixture
def fake(start_fake) -> FakeAPNs:
    return start_fake()


@pytest.fixture
def make_client(push_cert):
    clients: list[APNsClient] = []

    def make(fake: FakeAPNs, cert=push_cert, **options) -> APNsClient:
        options = {"backoff_base": 0.001, "backoff_max": 0.005, **options}
        clients.append(APNsClient(cert.cert_pem, cert.key_pem, cert.topic, host=fake.host,
                                  port=fake.port, verify=fake.server_ca_file, **options))
        return clients[-1]

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def apns_client(fake, make_client) -> APNsClient:
    return make_client(fake)


def test_push_sends_exact_mdm_request_over_http2(fake, apns_client, push_cert):
    before = int(time.time())
    [result] = apns_client.push_many_sync([PushTarget("d1", token(1).upper(), MAGIC)])
    assert (result.outcome, result.status) == ("sent", 200) and result.apns_id
    [push] = fake.pushes
    assert push.headers[":method"] == "POST"
    assert push.headers[":path"] == f"/3/device/{token(1)}"
    assert push.headers["apns-push-type"] == "mdm"
    assert push.headers["apns-topic"] == push_cert.topic
    assert push.headers["apns-priority"] == "10"
    assert before + 259200 <= int(push.headers["apns-expiration"]) <= int(time.time()) + 259200
    assert push.body == b'{"mdm":"' + MAGIC.encode() + b'"}'
    assert [c.http_version for c in fake.connections] == ["HTTP/2"]
    assert fake.connections[0].client_topic == push_cert.topic


def test_expiration_follows_client_setting(fake, make_client):
    make_client(fake, expiration_seconds=3600).push_many_sync(targets(1))
    assert abs(int(fake.pushes[0].headers["apns-expiration"]) - (time.time() + 3600)) < 5


def test_unregistered_token_reports_410_timestamp(fake, apns_client):
    fake.fail(token(2), 410, "Unregistered", timestamp_ms=1_700_000_000_123)
    [result] = apns_client.push_many_sync(targets(1, start=2))
    assert (result.outcome, result.status, result.reason) == ("unregistered", 410, "Unregistered")
    assert result.timestamp == datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=timezone.utc)


@pytest.mark.parametrize("status, reason", [(400, "BadDeviceToken"), (400, "DeviceTokenNotForTopic")])
def test_rejected_token_is_bad_token_and_not_retried(fake, apns_client, status, reason):
    fake.fail(token(3), status, reason)
    [result] = apns_client.push_many_sync(targets(1, start=3))
    assert (result.outcome, result.status, result.reason) == ("bad_token", status, reason)
    assert len(fake.pushes) == 1


def test_other_client_errors_are_bad_token_and_logged(fake, apns_client, caplog):
    fake.fail(token(4), 413, "PayloadTooLarge")
    with caplog.at_level(logging.WARNING, logger="espalier.apple.apns"):
        [result] = apns_client.push_many_sync(targets(1, start=4))
    assert (result.outcome, result.reason) == ("bad_token", "PayloadTooLarge")
    assert "PayloadTooLarge" in caplog.text and "device-4" in caplog.text


def test_bad_certificate_stops_the_remaining_pushes(fake, apns_client):
    fake.fail(token(0), 403, "BadCertificate")
    results = apns_client.push_many_sync(targets(20))
    assert {r.outcome for r in results} == {"certificate_error"}
    assert {r.reason for r in results} == {"BadCertificate"}
    assert [r.target.device_key for r in results] == [f"device-{n}" for n in range(20)]
    assert len(fake.pushes) == 1
    # The client stays stopped: a later batch is not sent either.
    assert {r.outcome for r in apns_client.push_many_sync(targets(3, start=50))} == {"certificate_error"}
    assert len(fake.pushes) == 1


def test_too_many_requests_is_retried_until_sent(fake, apns_client):
    fake.fail(token(5), 429, "TooManyRequests", times=2)
    [result] = apns_client.push_many_sync(targets(1, start=5))
    assert result.outcome == "sent"
    assert [p.status for p in fake.pushes] == [429, 429, 200]


@pytest.mark.parametrize("status, reason", [(500, "InternalServerError"), (503, "ServiceUnavailable")])
def test_server_errors_exhaust_retries_then_report_retry(fake, make_client, status, reason):
    apns_client = make_client(fake, max_attempts=4)
    fake.fail(token(6), status, reason)
    [result] = apns_client.push_many_sync(targets(1, start=6))
    assert (result.outcome, result.status, result.reason) == ("retry", status, reason)
    assert len(fake.pushes) == 4


def test_reset_stream_is_a_transport_error_that_is_retried(fake, apns_client):
    fake.reset(token(7), times=1)
    [result] = apns_client.push_many_sync(targets(1, start=7))
    assert result.outcome == "sent"
    assert [p.status for p in fake.pushes] == [0, 200]


def test_unreachable_apns_marks_every_target_retry_without_hammering(start_fake, make_client):
    fake = start_fake()
    with socket.socket() as probe:  # a port where nothing listens
        probe.bind(("127.0.0.1", 0))
        fake.port = probe.getsockname()[1]
    apns_client = make_client(fake, max_attempts=2)
    started = time.monotonic()
    results = apns_client.push_many_sync(targets(50))
    assert {r.outcome for r in results} == {"retry"}
    assert {r.status for r in results} == {None}
    assert all(r.reason.startswith("ConnectError") for r in results)
    assert time.monotonic() - started < 5


def test_many_pushes_share_one_tls_connection(fake, apns_client):
    first = apns_client.push_many_sync(targets(250))
    second = apns_client.push_many_sync(targets(250, start=250))
    assert {r.outcome for r in first + second} == {"sent"}
    assert len(fake.pushes) == 500
    assert len(fake.connections) == 1
    assert {p.connection_id for p in fake.pushes} == {fake.connections[0].id}


def test_results_map_back_to_targets_in_order(fake, apns_client):
    fake.fail(token(1), 410, "Unregistered")
    fake.fail(token(3), 400, "BadDeviceToken")
    results = apns_client.push_many_sync(targets(5))
    assert [(r.target.device_key, r.outcome) for r in results] == [
        ("device-0", "sent"), ("device-1", "unregistered"), ("device-2", "sent"),
        ("device-3", "bad_token"), ("device-4", "sent")]


def test_in_flight_streams_never_exceed_the_advertised_limit(start_fake, make_client):
    fake = start_fake(max_concurrent_streams=5, response_delay=0.05)
    apns_client = make_client(fake)
    assert {r.outcome for r in apns_client.push_many_sync(targets(60))} == {"sent"}
    assert fake.max_in_flight == 5
    assert apns_client.stream_limit == 5


def test_concurrency_argument_caps_streams_below_the_server_limit(start_fake, make_client):
    fake = start_fake(response_delay=0.05)
    apns_client = make_client(fake)
    assert {r.outcome for r in apns_client.push_many_sync(targets(40), concurrency=3)} == {"sent"}
    assert fake.max_in_flight == 3


def test_server_without_http2_is_refused(start_fake, make_client):
    apns_client = make_client(start_fake(http1_only=True))
    with pytest.raises(APNsProtocolError, match="HTTP/1.1"):
        apns_client.push_many_sync(targets(3))


def test_malformed_token_is_not_sent(fake, apns_client):
    bad, *results = apns_client.push_many_sync([PushTarget("d", "not-hex", MAGIC), *targets(3)])
    assert (bad.outcome, bad.reason) == ("bad_token", "MalformedToken")
    assert [r.outcome for r in results] == ["sent"] * 3
    assert sorted(p.token_hex for p in fake.pushes) == [token(n) for n in range(3)]


def test_fake_calls_on_push_for_delivered_pushes(start_fake, make_client):
    seen: list[tuple[str, str]] = []
    delivered = threading.Event()
    fake = start_fake(on_push=lambda t, m: (seen.append((t, m)), delivered.set()))
    fake.fail(token(1), 410, "Unregistered")
    make_client(fake).push_many_sync(targets(2))
    assert delivered.wait(5)
    time.sleep(0.05)
    assert seen == [(token(0), MAGIC)]


def test_async_push_many_on_the_callers_loop(fake, push_cert):
    async def run():
        apns_client = APNsClient(push_cert.cert_pem, push_cert.key_pem, push_cert.topic,
                            host=fake.host, port=fake.port, verify=fake.server_ca_file)
        try:
            return await apns_client.push_many(targets(30))
        finally:
            await apns_client.aclose()

    assert {r.outcome for r in asyncio.run(run())} == {"sent"}
    assert len(fake.connections) == 1


def test_pool_rebuilds_client_when_certificate_changes(fake, ca):
    from espalier.apple.apns import APNsPool

    first_cert, renewed = make_push_cert(ca), make_push_cert(ca)
    pool = APNsPool({"sandbox": False, "expiration_seconds": 3600, "host": fake.host, "port": fake.port,
                     "ca_file": fake.server_ca_file})

    def client(cert_id, fingerprint, cert):
        return pool.client(cert_id, fingerprint, cert.cert_pem, cert.topic, lambda: cert.key_pem)

    try:
        first = client(1, "fp-1", first_cert)
        assert client(1, "fp-1", renewed) is first  # same fingerprint: the cached connection
        first.push_many_sync(targets(2))
        second = client(1, "fp-2", renewed)
        assert second is not first
        with pytest.raises(RuntimeError, match="closed"):
            first.push_many_sync(targets(1))
        second.push_many_sync(targets(2))
        assert [c.client_topic for c in fake.connections] == [first_cert.topic, renewed.topic]
        assert client(2, "fp-1", renewed) is not second
    finally:
        pool.close()


def test_client_picks_apple_hosts_and_rejects_mismatched_key(push_cert, ca):
    sandbox = APNsClient(push_cert.cert_pem, push_cert.key_pem, push_cert.topic, sandbox=True)
    production = APNsClient(push_cert.cert_pem, push_cert.key_pem, push_cert.topic)
    assert (sandbox.host, sandbox.port) == ("api.sandbox.push.apple.com", 443)
    assert (production.host, production.port) == ("api.push.apple.com", 443)
    sandbox.close(), production.close()
    with pytest.raises(ValueError, match="TLS identity"):
        APNsClient(push_cert.cert_pem, make_push_cert(ca).key_pem, push_cert.topic)


def test_first_push_goes_alone_then_the_connection_opens_up(start_fake, make_client):
    # Like APNs, the fake allows 1 stream until the first answer; a second stream sooner
    # would be a protocol error that kills the connection.
    fake = start_fake(first_request_streams=1, max_concurrent_streams=50, response_delay=0.1)
    apns_client = make_client(fake)
    assert {r.outcome for r in apns_client.push_many_sync(targets(40))} == {"sent"}
    assert len(fake.connections) == 1
    assert fake.max_in_flight == 39  # the first alone, then the rest at once
    assert apns_client.stream_limit == 50


@pytest.mark.parametrize("failure", ["goaway", "drop"])
def test_dead_connection_is_replaced_once_and_unanswered_pushes_retried(start_fake, make_client,
                                                                        failure):
    fake = start_fake(response_delay=0.02)
    getattr(fake, failure)(token(10))  # GOAWAY, or a bare close (EOF), instead of an answer
    apns_client = make_client(fake)
    results = apns_client.push_many_sync(targets(60))
    assert [r.outcome for r in results] == ["sent"] * 60
    assert len(fake.connections) == 2  # one reconnect, and the new one also began with one push
    unanswered = [p for p in fake.pushes if p.status == 0]
    assert [(p.token_hex, p.reason) for p in unanswered] == [
        (token(10), "GOAWAY" if failure == "goaway" else "EOF")]
    assert {p.token_hex for p in fake.pushes if p.status == 200} == {token(n) for n in range(60)}
    # The next batch uses the new connection.
    apns_client.push_many_sync(targets(5, start=100))
    assert len(fake.connections) == 2


def test_pushes_made_together_go_out_in_one_write(start_fake, make_client):
    fake = start_fake(response_delay=0.05)
    apns_client = make_client(fake)
    apns_client.push_many_sync(targets(1))  # connect
    before = fake.connections[0].reads
    assert {r.outcome for r in apns_client.push_many_sync(targets(200, start=1))} == {"sent"}
    # 200 requests reach the fake in a handful of socket reads: one write, not one per push.
    assert fake.connections[0].reads - before <= 6


def test_unanswered_push_times_out_as_retry(start_fake, make_client):
    fake = start_fake(response_delay=2.0)
    apns_client = make_client(fake, timeout=0.2, max_attempts=1)
    started = time.monotonic()
    [result] = apns_client.push_many_sync(targets(1))
    assert result.outcome == "retry" and result.status is None
    assert result.reason.startswith(("ConnectionLost: no data", "Timeout: no answer"))
    assert time.monotonic() - started < 1.5


def test_idle_connection_is_pinged_then_reused(fake, apns_client, monkeypatch):
    apns_client.push_many_sync(targets(1))
    monkeypatch.setattr(apns, "IDLE_PING", 0.0)
    assert [r.outcome for r in apns_client.push_many_sync(targets(2, start=1))] == ["sent"] * 2
    assert len(fake.connections) == 1


def test_request_headers_are_encoded_once_and_then_referenced():
    from hpack import Decoder

    from espalier.apple.hpack_request import RequestTemplate, TemplateEncoder

    fixed = [("apns-push-type", "mdm"), ("apns-topic", "com.apple.mgmt.External.x"),
             ("apns-priority", "10")]
    encoder = TemplateEncoder(RequestTemplate("POST", "api.push.apple.com", fixed))
    decoder = Decoder()
    varying = [(b":path", b"/3/device/" + token(1).encode()), (b"apns-expiration", b"1700000000"),
               (b"content-length", b"46")]
    expected = [(b":method", b"POST"), (b":scheme", b"https"), (b":authority", b"api.push.apple.com"),
                varying[0], *[(n.encode(), v.encode()) for n, v in fixed], *varying[1:]]
    sizes = []
    for table_size in (None, None, 64, 64, 4096, 4096):  # the peer's SETTINGS_HEADER_TABLE_SIZE
        if table_size is not None and table_size != decoder.max_allowed_table_size:
            encoder.header_table_size = decoder.max_allowed_table_size = table_size
        block = encoder.encode(varying)
        assert decoder.decode(block, raw=True) == expected
        assert decoder.header_table_size <= (table_size or 4096)
        sizes.append(len(block))
    first, indexed, _, too_small, again, indexed_again = sizes
    assert indexed < first - 80 and indexed_again == indexed  # the fixed headers: 1 byte each
    assert too_small > indexed and again == first  # no room: literals; room again: re-inserted


@pytest.mark.parametrize("headers, problem", [
    ([(b":method", b"POST"), (b":scheme", b"https"), (b":authority", b"a"), (b":path", b"/3/device/00")],
     None),
    ([(b":method", b"POST"), (b":scheme", b"https"), (b":path", b"/3/device/00")], "missing"),
    ([(b":method", b"POST"), (b"apns-topic", b"t"), (b":scheme", b"https"), (b":authority", b"a"),
      (b":path", b"/")], "misplaced"),
    ([(b":method", b"POST"), (b":method", b"POST"), (b":scheme", b"https"), (b":authority", b"a"),
      (b":path", b"/")], "misplaced"),
    ([(b":method", b"POST"), (b":scheme", b"https"), (b":authority", b"a"), (b":path", b"/"),
      (b"APNS-Topic", b"t")], "header"),
    ([(b":method", b"POST"), (b":scheme", b"https"), (b":authority", b"a"), (b":path", b"/"),
      (b"connection", b"close")], "header"),
    ([(b":method", b"POST"), (b":scheme", b"https"), (b":authority", b"a"), (b":path", b"/"),
      (b"apns-topic", b"t\r\nx: y")], "value"),
])
def test_fake_refuses_malformed_header_blocks(headers, problem):
    from fakes.apns import _malformed

    found = _malformed(headers)
    assert (found is None) if problem is None else (problem in found)


@pytest.mark.parametrize("magic", [MAGIC, 'quote " and \\ backslash', "caf\u00e9 \u2603", ""])
def test_body_is_the_json_of_the_push_magic(fake, apns_client, magic):
    [result] = apns_client.push_many_sync([PushTarget("d", token(1), magic)])
    assert result.outcome == "sent"
    assert fake.pushes[0].body == json.dumps({"mdm": magic}, separators=(",", ":")).encode()
