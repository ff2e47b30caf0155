"""What an APNs outage looks like in the log: one line per certificate when it starts (what
failed, since when, next retry) and one when it ends; no traceback per push or per job."""
from __future__ import annotations

import logging
import socket

import pytest

from espalier.services import demo, push_certificates
from espalier.tasks import push
from espalier.tasks.queue import Job

from fakes.push_certs import make_push_cert


@pytest.fixture
def dead_port():
    with socket.socket() as probe:  # nothing listens here once the probe is closed
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def mdm_settings(request, fake_apns, dead_port):
    port = dead_port if request.node.name.startswith("test_unreachable") else fake_apns.port
    return {"apns": {"host": fake_apns.host, "port": port, "ca_file": fake_apns.server_ca_file}}


def _cert(runtime, cert_pem: str, key_pem: str, name: str = "Main"):
    with runtime.db.session() as s, s.begin():
        return push_certificates.add(s, runtime.secrets, {"name": name, "certificate": cert_pem,
                                                          "private_key": key_pem})


@pytest.fixture
def devices(make_device, runtime, push_ca):
    pair = make_push_cert(push_ca)
    cert = _cert(runtime, pair.cert_pem.decode(), pair.key_pem.decode())
    return [make_device(push_token=f"{i:02x}" * 32, push_magic=f"m{i}", push_certificate_id=cert.id,
                        topic=cert.topic) for i in range(1, 6)]


def _run_push_job(runtime, ids):
    """As the in-process queue runs it (its failure handling included)."""
    runtime.queue.push_enabled = True
    runtime.queue._run(Job(push.notify_devices, (ids,), "push"))


def _lines(caplog, text):
    return [r for r in caplog.records if text in r.getMessage()]


def test_unreachable_apns_is_one_line_per_outage_without_traceback(runtime, devices, caplog):
    caplog.set_level(logging.DEBUG)
    ids = [d.id for d in devices]
    for _ in range(3):
        _run_push_job(runtime, ids)
        with pytest.raises(push.PushRetry):
            push.push(runtime, ids, force=True)
    outage = _lines(caplog, "APNs unreachable since")
    assert len(outage) == 1 and outage[0].levelno == logging.WARNING
    message = outage[0].getMessage()
    assert "ConnectError" in message and "5 push(es) pending" in message and "next retry by" in message
    assert not [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING and r not in outage]


def test_outage_ends_with_one_line(runtime, devices, fake_apns, caplog):
    caplog.set_level(logging.INFO)
    for d in devices:
        fake_apns.fail(d.push_token, 503, "ServiceUnavailable")
    for _ in range(2):
        with pytest.raises(push.PushRetry):
            push.push(runtime, [d.id for d in devices], force=True)
    assert len(_lines(caplog, "APNs unreachable since")) == 1
    assert "503 ServiceUnavailable" in _lines(caplog, "APNs unreachable since")[0].getMessage()
    fake_apns._failures.clear()
    assert len(push.push(runtime, [d.id for d in devices], force=True).sent) == 5
    assert len(_lines(caplog, "APNs reachable again")) == 1
    with pytest.raises(push.PushRetry):  # a new outage is a new line
        fake_apns.fail(devices[0].push_token, 503, "ServiceUnavailable")
        push.push(runtime, [devices[0].id], force=True)
    assert len(_lines(caplog, "APNs unreachable since")) == 2


def test_a_bug_in_a_job_still_logs_its_traceback(runtime, caplog):
    def broken(rt):
        raise KeyError("a bug")

    runtime.queue._run(Job(broken, (), "default"))
    [record] = [r for r in caplog.records if "failed" in r.getMessage()]
    assert record.levelno == logging.ERROR and record.exc_info[0] is KeyError


def test_the_demo_certificate_is_said_once_and_never_pushed(runtime, make_device, fake_apns, caplog):
    cert_pem, key_pem = demo.make_push_pair()
    cert = _cert(runtime, cert_pem, key_pem, name=demo.DEMO_CERT_NAME)
    ds = [make_device(push_token=f"{i:02x}" * 32, push_magic="m", push_certificate_id=cert.id, topic=cert.topic)
          for i in range(1, 4)]
    for _ in range(3):
        assert push.push(runtime, [d.id for d in ds], force=True).skipped == [d.id for d in ds]
    assert fake_apns.pushes == []
    assert len(_lines(caplog, "demo's throw-away certificate")) == 1
