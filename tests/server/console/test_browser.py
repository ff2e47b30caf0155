"""The console in a real browser: Debian's Chromium, headless, driven by Playwright against a
live `espalier serve` with simulated devices. Screenshots of each page go to tests/output/console/."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect, sync_playwright

from live import BIN, LiveServer

SHOTS = Path(__file__).resolve().parents[2] / "output" / "console"


def chromium() -> str:
    """Debian's chromium (Playwright's own browser builds cannot be downloaded here), installed
    with apt as ./run installs system packages; skipped only where apt cannot be used."""
    found = shutil.which("chromium")
    if found:
        return found
    if not shutil.which("apt-get") or os.geteuid() != 0:
        pytest.skip("chromium is not installed and apt-get cannot install it here (needs root and apt)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, capture_output=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=True, env=env, capture_output=True)
    return shutil.which("chromium")


def _set_up(live) -> tuple[str, str]:
    """Users, the demo enrollment and an admin key, straight through the services (no CLI start-ups)."""
    from espalier import runtime as runtime_mod
    from espalier.services import auth, demo
    from espalier.settings import load

    rt = runtime_mod.build(load(str(live.settings)))
    try:
        with rt.db.session() as s, s.begin():
            d = demo.set_up(s, rt.secrets)
            for name, role in (("alice", "admin"), ("vera", "viewer")):
                auth.create_user(s, name)
                auth.set_password(s, name, f"{name}-password", roles=[role])
        return d.enrollment_secret, d.token
    finally:
        rt.close()


@pytest.fixture
def served(tmp_path):
    with LiveServer(tmp_path) as live:
        secret, key = _set_up(live)
        live.headers = {"Authorization": f"Token {key}"}
        sim = subprocess.Popen([str(BIN / "espalier"), "simulate", "--url", live.url, "--enrollment", secret,
                                "--devices", "3", "--platform", "mixed", "--stay", "120", "--poll", "1"],
                               env=live.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
        try:
            # enrolled, and each has answered its first DeviceInformation: a device listed before
            # that has no name yet, and its page would show the name it reports a moment later
            devices, deadline = [], time.monotonic() + 60
            while not (len(devices) == 3 and all(d["name"] for d in devices)) and time.monotonic() < deadline:
                time.sleep(0.3)
                devices = httpx.get(f"{live.url}/api/mdm/devices/", headers=live.headers).json()
            assert len(devices) == 3 and all(d["name"] for d in devices), devices
            yield live, devices
        finally:
            os.killpg(sim.pid, signal.SIGKILL)
            sim.wait(timeout=15)


def test_console_in_chromium(served):
    live, devices = served
    SHOTS.mkdir(parents=True, exist_ok=True)
    mac = devices[0]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), headless=True, args=["--no-sandbox"])
        page = browser.new_page()
        page.set_default_timeout(10_000)

        page.goto(f"{live.url}/console/")
        expect(page).to_have_url(f"{live.url}/console/login?next=/console/?")
        page.screenshot(path=SHOTS / "login.png")
        page.fill("input[name=username]", "alice")
        page.fill("input[name=password]", "alice-password")
        page.get_by_role("button", name="Log in", exact=True).click()
        expect(page.locator("h1")).to_have_text("Fleet overview")
        expect(page.locator("#total")).to_have_text("3")
        assert page.locator("svg.chart").count() == 3
        page.screenshot(path=SHOTS / "overview.png", full_page=True)

        page.click("text=Devices")
        expect(page.locator("table tr")).to_have_count(4)
        page.screenshot(path=SHOTS / "devices.png", full_page=True)
        page.click(f"text={mac['serial_number']}")
        expect(page.locator("h1")).to_contain_text(mac["name"])
        expect(page.locator("#queue")).to_contain_text("DeviceInformation")
        page.screenshot(path=SHOTS / "device.png", full_page=True)

        page.click("button:has-text('Block')")
        expect(page.locator("h1")).to_contain_text("Block")
        page.screenshot(path=SHOTS / "confirm-block.png")
        page.click("button:has-text('Yes, block')")
        expect(page.locator(".flash")).to_have_text("Device blocked.")
        expect(page.locator("h1 .danger")).to_have_text("blocked")
        assert httpx.get(f"{live.url}/api/mdm/devices/{mac['id']}/", headers=live.headers).json()["blocked_at"]

        page.click("text=Push certificates")
        expect(page.locator("table")).to_contain_text("DEMO throw-away")
        page.screenshot(path=SHOTS / "push-certificates.png")
        page.click("text=Tasks")
        page.screenshot(path=SHOTS / "tasks.png")
        page.click("button:has-text('Log out')")

        page.fill("input[name=username]", "vera")
        page.fill("input[name=password]", "vera-password")
        page.get_by_role("button", name="Log in", exact=True).click()
        expect(page.locator("h1")).to_have_text("Fleet overview")
        other = next(d for d in devices if d["id"] != mac["id"])
        page.goto(f"{live.url}/console/devices/{other['id']}/")
        expect(page.locator("text=Your permissions allow no action.")).to_be_visible()
        assert page.locator("button:has-text('Block')").count() == 0
        # The viewer forges the block form with a valid CSRF token: the server refuses it.
        page.evaluate("""([id]) => { const f = document.createElement('form'); f.method = 'post';
            f.action = `/console/devices/${id}/block`;
            for (const [k, v] of [['csrf_token', document.querySelector('input[name=csrf_token]').value],
                                  ['confirmed', 'yes']]) {
              const i = document.createElement('input'); i.type = 'hidden'; i.name = k; i.value = v; f.appendChild(i); }
            document.body.appendChild(f); f.submit(); }""", [other["id"]])
        expect(page.locator("h1")).to_have_text("Permission denied")
        page.screenshot(path=SHOTS / "viewer-denied.png")
        browser.close()
    assert httpx.get(f"{live.url}/api/mdm/devices/{other['id']}/", headers=live.headers).json()["blocked_at"] is None
    assert {p.name for p in SHOTS.glob("*.png")} >= {"login.png", "overview.png", "devices.png", "device.png",
                                                     "confirm-block.png", "viewer-denied.png"}
