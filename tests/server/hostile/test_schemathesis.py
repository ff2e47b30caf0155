"""schemathesis against a live server through its own OpenAPI document: no 5xx, and every
answer (status code, content type, body) as documented.

Two runs: one with generated path values (ids beyond range, strings), one with the path
values of real objects (simulated devices that enrolled over the protocol, their commands,
the enrollment, the push certificate), so the operations behind them are reached too.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from espalier.sim.fleet import Fleet
from fakes.push_certs import make_ca, make_push_cert
from live import LiveServer

CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
ST = Path(sys.executable).parent / "st"


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    if not ST.exists() and not shutil.which("st"):
        pytest.fail("schemathesis is not installed: it is in tests/requirements.txt")
    work = tmp_path_factory.mktemp("schemathesis")
    with LiveServer(work, mdm={"mtls_proxy": False}) as live:
        live.espalier("user", "create", "admin")
        token = live.espalier("token", "create", "--user", "admin", "--role", "admin", "--quiet").strip()
        pc = make_push_cert(make_ca())
        (work / "push.pem").write_bytes(pc.cert_pem)
        (work / "push.key").write_bytes(pc.key_pem)
        live.espalier("push-certificate", "add", "--name", "Main", "--certificate", str(work / "push.pem"),
                      "--private-key", str(work / "push.key"))
        secret = live.espalier("enrollment", "create", "--name", "Lab", "--push-certificate", "1",
                               "--attestation", "none", "--quiet").strip()
        with Fleet(live.url, secret, 3, "mixed") as fleet:
            assert fleet.enroll_all() == 3
            fleet.connect_all()
        headers = {"Authorization": f"Token {token}"}
        lock = httpx.post(f"{live.url}/api/mdm/devices/2/lock/", headers=headers, json={}).json()
        yield live, token, lock


def _run(live, token: str, work: Path, config: str = "") -> subprocess.CompletedProcess:
    # One worker: on Python 3.11 before 3.11.8, ast.parse from two threads can raise "AST constructor
    # recursion depth mismatch" (CPython gh-106905), which hypothesis hits while describing strategies.
    args = [str(ST if ST.exists() else shutil.which("st"))]
    if config:
        (work / "schemathesis.toml").write_text(config)
        args += ["--config-file", str(work / "schemathesis.toml")]
    args += ["run", f"{live.url}/api/openapi.json", "-H", f"Authorization: Token {token}", "--checks", CHECKS,
             "--max-examples", os.environ.get("ESPALIER_SCHEMATHESIS_EXAMPLES", "25"), "--seed", "1",
             "--phases", "examples,coverage,fuzzing", "--no-color", "--workers", "1",
             "--max-time", os.environ.get("ESPALIER_SCHEMATHESIS_SECONDS", "45"),
             "--report", "junit", "--report-dir", str(work / "report")]
    # cwd: schemathesis keeps a cache of past failures in ./.schemathesis; each run starts clean
    return subprocess.run(args, capture_output=True, text=True, timeout=400, cwd=work)


def test_generated_requests_get_documented_answers(seeded, tmp_path):
    live, token, _ = seeded
    result = _run(live, token, tmp_path)
    (tmp_path / "st.log").write_text(result.stdout + result.stderr)
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]


def test_requests_on_real_objects_get_documented_answers(seeded, tmp_path):
    live, token, lock = seeded
    config = f"""
[parameters]
device_id = 1
enrollment_id = 1
cert_id = 1
uuid = "{lock['uuid']}"
"""
    result = _run(live, token, tmp_path, config)
    (tmp_path / "st.log").write_text(result.stdout + result.stderr)
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
