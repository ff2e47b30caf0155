"""Shared setup of the FileVault and recovery password tests: a blueprint with both configurations."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from espalier.models import DeviceCommand, EnrolledDevice


@pytest.fixture
def mdm_settings():
    return {"mtls_proxy": True}


@pytest.fixture
def configs(client, admin, enrollment):
    """make(filevault={...} | None, recovery={...} | None) -> the blueprint on the enrollment."""
    def make(filevault: dict | None = None, recovery: dict | None = None) -> dict:
        body = {"name": "Secure"}
        if filevault is not None:
            fv = client.post("/api/mdm/filevault_configs/", headers=admin, json={
                "name": "FV", "escrow_location_display_name": "Espalier IT", **filevault})
            assert fv.status_code == 201, fv.json
            body["filevault_config"] = fv.json["id"]
        if recovery is not None:
            rp = client.post("/api/mdm/recovery_password_configs/", headers=admin, json={"name": "RP", **recovery})
            assert rp.status_code == 201, rp.json
            body["recovery_password_config"] = rp.json["id"]
        body.setdefault("legacy_profiles_via_ddm", False)  # these Macs get their profiles by InstallProfile
        bp = client.post("/api/mdm/blueprints/", headers=admin, json=body)
        assert bp.status_code == 201, bp.json
        assert client.put(f"/api/mdm/ota_enrollments/{enrollment['id']}/", headers=admin,
                          json={"blueprint": bp.json["id"]}).status_code == 200
        return bp.json
    return make


@pytest.fixture
def age(runtime):
    """age(device_id, delta, *columns): the device's columns and its commands' times, delta earlier."""
    def move(device_id: int, delta, *columns: str) -> None:
        with runtime.db.session() as s, s.begin():
            device = s.get(EnrolledDevice, device_id)
            for column in columns:
                setattr(device, column, getattr(device, column) - delta)
            for command in s.scalars(select(DeviceCommand).where(DeviceCommand.enrolled_device_id == device_id)):
                command.created_at -= delta
                command.result_time = command.result_time and command.result_time - delta
    return move


@pytest.fixture
def device_row(runtime):
    def read(device_id: int) -> EnrolledDevice:
        with runtime.db.session() as s:
            device = s.get(EnrolledDevice, device_id)
            s.expunge(device)
            return device
    return read
