"""`espalier simulate` whose devices present their identity certificate in the TLS handshake.

`espalier simulate --mtls` sends, over one HTTP client shared by every device, the headers an
mTLS proxy would set (X-SSL-Client-Cert, X-SSL-Client-S-DN). Behind the real proxy (nginx with
`ssl_verify_client`), which replaces those headers, a device must instead present the certificate
SCEP issued it during the TLS handshake, as Apple devices do. This wrapper gives each device that
holds an identity its own HTTP client with that certificate and key, then runs the unchanged
`espalier simulate` command with the same options. Run it with the server's virtualenv Python:

    python mtls_simulate.py --url https://mdm.example.com --enrollment SECRET --mtls --insecure ...

Environment (optional):
    ESPALIER_SIM_COMMANDS_FILE  write, when done, one JSON line per device: serial number and the
                                commands it received (uuid, request type, status), in order
    ESPALIER_SIM_STOP_FILE      end `--stay` early (as SIGTERM does) once this file exists
"""
from __future__ import annotations

import json
import os
import signal
import ssl
import sys
import tempfile
import threading
import time

import httpx
from cryptography.hazmat.primitives import hashes, serialization

from espalier.cli.simulate import simulate
from espalier.sim import device as sim_device
from espalier.sim import fleet as sim_fleet

INSECURE = "--insecure" in sys.argv
_clients: dict[int, tuple[bytes, httpx.Client]] = {}
_lock = threading.Lock()
_original_http = sim_device.SimulatedDevice._http
_original_close = sim_fleet.Fleet.close


def _tls_context(device: sim_device.SimulatedDevice) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if INSECURE:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    with tempfile.TemporaryDirectory() as tmp:
        cert_path, key_path = os.path.join(tmp, "identity.crt"), os.path.join(tmp, "identity.key")
        with open(cert_path, "wb") as fh:
            fh.write(device.identity_cert.public_bytes(serialization.Encoding.PEM))
        with open(os.open(key_path, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as fh:
            fh.write(device.identity_key.private_bytes(serialization.Encoding.PEM,
                                                       serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
        context.load_cert_chain(cert_path, key_path)
    return context


def _device_client(device: sim_device.SimulatedDevice) -> httpx.Client:
    """The device's own client, rebuilt when its identity changes (renewal)."""
    fingerprint = device.identity_cert.fingerprint(hashes.SHA256())
    with _lock:
        entry = _clients.get(id(device))
        if entry is not None and entry[0] == fingerprint:
            return entry[1]
        client = httpx.Client(verify=_tls_context(device), timeout=30.0)
        if entry is not None:
            entry[1].close()
        _clients[id(device)] = (fingerprint, client)
        return client


def _http(self: sim_device.SimulatedDevice, method: str, url: str, **kwargs) -> httpx.Response:
    if self.identity_cert is None or self.identity_key is None:
        return _original_http(self, method, url, **kwargs)
    try:
        return _device_client(self).request(method, url, **kwargs)
    except httpx.HTTPError as exc:
        raise sim_device.EnrollmentError(f"{method} {url}: {exc!r}") from exc


def _close(self: sim_fleet.Fleet) -> None:
    path = os.environ.get("ESPALIER_SIM_COMMANDS_FILE")
    if path:
        with open(path, "w", encoding="utf-8") as fh:
            for device in self.devices:
                commands = [{"uuid": c.command_uuid, "request_type": c.request_type, "status": c.status}
                            for c in device.commands]
                fh.write(json.dumps({"serial_number": device.facts.serial, "commands": commands}) + "\n")
    _original_close(self)
    with _lock:
        for _, client in _clients.values():
            client.close()
        _clients.clear()


def _watch_stop_file(path: str) -> None:
    while not os.path.exists(path):
        time.sleep(0.5)
    os.kill(os.getpid(), signal.SIGTERM)


def main() -> None:
    sim_device.SimulatedDevice._http = _http
    sim_fleet.Fleet.close = _close
    stop_file = os.environ.get("ESPALIER_SIM_STOP_FILE")
    if stop_file:
        threading.Thread(target=_watch_stop_file, args=(stop_file,), daemon=True).start()
    simulate.main(sys.argv[1:], prog_name="espalier simulate")


if __name__ == "__main__":
    main()
