"""Answers schemathesis found wrong, kept right."""
from __future__ import annotations


def test_renaming_an_enrollment_to_a_taken_name_is_400(client, admin, push_certificate):
    pc = push_certificate["id"]
    first = client.post("/api/mdm/ota_enrollments/", headers=admin, json={"name": "A", "push_certificate": pc}).json
    client.post("/api/mdm/ota_enrollments/", headers=admin, json={"name": "0", "push_certificate": pc})
    resp = client.put(f"/api/mdm/ota_enrollments/{first['id']}/", headers=admin, json={
        "name": "0", "display_name": "0", "push_certificate": pc, "blueprint": None, "identity_source": "builtin",
        "attestation": "apple", "scep_url": None, "scep_challenge": None, "reusable": False, "quota": None})
    assert resp.status_code == 400, resp.json
    assert resp.json == {"name": ["OTA enrollment with this name already exists."]}
