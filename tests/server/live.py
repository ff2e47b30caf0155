"""A live `espalier serve` (gunicorn) on a free loopback port, for what only a real socket shows."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    def __init__(self, directory: Path, mdm: dict | None = None, secret_key: str = "live-" + "k" * 40):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.settings = directory / "settings.json"
        self.settings.write_text(json.dumps({
            "base_url": self.url, "database_url": f"sqlite:///{directory}/live.db", "secret_keys": [secret_key],
            "log_level": "INFO", "apps": {"espalier.mdm": mdm or {}}}))
        self.log = directory / "server.log"
        self.env = {**os.environ, "ESPALIER_SETTINGS": str(self.settings)}
        self.proc: subprocess.Popen | None = None

    def espalier(self, *args: str) -> str:
        return subprocess.run([str(BIN / "espalier"), *args], env=self.env, check=True, capture_output=True,
                              text=True).stdout

    def __enter__(self) -> LiveServer:
        self.espalier("db", "upgrade")
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen([str(BIN / "espalier"), "serve", "--bind", f"127.0.0.1:{self.port}"],
                                         env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"espalier serve exited:\n{self.log.read_text()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"espalier serve not ready:\n{self.log.read_text()}")

    def __exit__(self, *exc_info) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
