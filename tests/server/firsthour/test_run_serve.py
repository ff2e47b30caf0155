"""`./run serve` on a fresh directory, as a new user meets it: the commands it prints are run as
printed (from the repository root, in another process) and must enroll devices, show them in
the API and lock one through Ansible; a second start mints no token; a busy port changes nothing."""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from live import free_port

ROOT = Path(__file__).resolve().parents[3]


def _env(tmp_path: Path, port: int) -> dict:
    # The test's own venv, so ./run installs nothing; the settings in a fresh directory.
    return {**os.environ, "ESPALIER_VENV": sys.prefix, "ESPALIER_SETTINGS": str(tmp_path / "settings.json"),
            "ESPALIER_BIND": f"127.0.0.1:{port}"}


class Serve:
    def __init__(self, env: dict, log: Path):
        self.log = log
        self.out = open(log, "w")
        self.proc = subprocess.Popen([str(ROOT / "run"), "serve"], cwd=ROOT, env=env, stdout=self.out,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, url: str) -> str:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    return self.log.read_text()
            except httpx.HTTPError:
                time.sleep(0.2)
        raise AssertionError(self.log.read_text())

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=15)
        self.out.close()


def _printed_commands(output: str) -> list[str]:
    block = output.split("In another shell, from the repository root:", 1)[1]
    return [line.strip() for line in block.splitlines()
            if line.startswith("  ") and not line.strip().startswith("#") and line.strip()]


def _sh(command: str, env: dict, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", command], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_first_start_prints_commands_that_work(tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = _env(tmp_path, port)
    other_shell = {k: v for k, v in env.items() if k != "ESPALIER_BIND"}
    serve = Serve(env, tmp_path / "serve.log")
    sim = None
    try:
        output = serve.wait_ready(url)
        assert "embedded default (SQLite + in-process queue)" in output
        token = re.search(r"admin token  ([0-9a-f]{40})", output).group(1)
        simulate, curl, ansible = _printed_commands(output)
        assert simulate.startswith(("./run espalier simulate", "ESPALIER_SETTINGS=")) and "--stay" in simulate
        sim = subprocess.Popen(["bash", "-c", simulate], cwd=ROOT, env=other_shell, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
        devices = []
        deadline = time.monotonic() + 60
        while len(devices) < 3 and time.monotonic() < deadline:
            time.sleep(1)
            answer = _sh(curl, other_shell, timeout=10)
            assert answer.returncode == 0, answer.stderr
            devices = json.loads(answer.stdout)
        assert sorted(d["id"] for d in devices) == [1, 2, 3]
        assert {d["platform"] for d in devices} == {"macOS"}

        locked = _sh(ansible, other_shell)
        assert locked.returncode == 0, locked.stdout + locked.stderr
        assert "CHANGED" in locked.stdout and '"status": "Acknowledged"' in locked.stdout, locked.stdout
        commands = httpx.get(f"{url}/api/mdm/devices/commands/?enrolled_device=1&name=DeviceLock", headers={"Authorization": f"Token {token}"}).json()
        assert [c["status"] for c in (commands["results"] if isinstance(commands, dict) else commands)] == \
            ["Acknowledged"]
        log = serve.log.read_text()
        assert "Traceback" not in log
        assert log.count("demo's throw-away certificate") <= 1
    finally:
        if sim is not None and sim.poll() is None:
            os.killpg(sim.pid, signal.SIGTERM)
            sim.wait(timeout=15)
        serve.stop()

    again = Serve(env, tmp_path / "again.log")
    try:
        output = again.wait_ready(url)
    finally:
        again.stop()
    assert token not in output and not re.search(r"[0-9a-f]{40}", output)
    assert "export ESPALIER_TOKEN=$(" in output and "token create --user admin --role admin --quiet" in output


def test_a_port_in_use_fails_before_anything_is_written(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run([str(ROOT / "run"), "serve"], cwd=ROOT, env=_env(tmp_path, port),
                              capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert f"cannot bind 127.0.0.1:{port}" in done.stderr and "ESPALIER_BIND" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_run_espalier_uses_the_settings_of_run_serve(tmp_path):
    env = _env(tmp_path, free_port())
    subprocess.run([sys.prefix + "/bin/espalier", "init", env["ESPALIER_SETTINGS"]], env=env, check=True,
                   capture_output=True)
    (tmp_path / "pw").write_text("a-long-password\n")
    for args in (["db", "upgrade"], ["user", "create", "alice"],
                 ["user", "set-password", "alice", "--password-file", str(tmp_path / "pw"), "--role", "viewer"]):
        done = subprocess.run([str(ROOT / "run"), "espalier", *args], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=60, stdin=subprocess.DEVNULL)
        assert done.returncode == 0, done.stderr
    assert (tmp_path / "espalier.db").exists() and "password of alice set; console: viewer" in done.stdout
    no_terminal = subprocess.run([str(ROOT / "run"), "espalier", "user", "set-password", "alice"], cwd=ROOT,
                                 env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert no_terminal.returncode == 2 and "--password-file FILE" in no_terminal.stderr

    from espalier import runtime as runtime_mod
    from espalier.services import auth
    from espalier.settings import load

    rt = runtime_mod.build(load(env["ESPALIER_SETTINGS"]))
    with rt.db.session() as s:
        token_id = auth.login(s, "alice", "a-long-password")
        assert token_id is not None and auth.login(s, "alice", "wrong-password") is None
        assert auth.active_permissions(s, token_id) == auth.perms.ROLES["viewer"]
    rt.close()
