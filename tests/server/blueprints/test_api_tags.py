"""Inventory tags and machine tagging (Zentral's inventory API)."""
from __future__ import annotations


def test_tag_crud(client, admin, make_token):
    resp = client.post("/api/inventory/tags/", headers=admin, json={"name": "beta", "color": "FF0000"})
    assert resp.status_code == 201, resp.json
    tag = resp.json
    assert tag == {"id": tag["id"], "taxonomy": None, "meta_business_unit": None, "name": "beta", "color": "ff0000"}
    assert client.post("/api/inventory/tags/", headers=admin, json={"name": "beta"}).json == {
        "name": ["tag with this name already exists."]}
    assert client.post("/api/inventory/tags/", headers=admin, json={"name": "x", "color": "red"}).status_code == 400
    assert client.post("/api/inventory/tags/", headers=admin, json={"name": "x", "taxonomy": 99}).json == {
        "taxonomy": ['Invalid pk "99" - object does not exist.']}
    assert client.get("/api/inventory/tags/?name=beta", headers=admin).json == [tag]
    resp = client.put(f"/api/inventory/tags/{tag['id']}/", headers=admin, json={"name": "gamma"})
    assert resp.json["name"] == "gamma" and resp.json["color"] == "ff0000"
    assert client.get("/api/inventory/tags/", headers=make_token("mdm.view_blueprint")).status_code == 403
    assert client.delete(f"/api/inventory/tags/{tag['id']}/", headers=admin).status_code == 204
    assert client.get(f"/api/inventory/tags/{tag['id']}/", headers=admin).status_code == 404


def test_machine_tags_operations(client, admin, make_device, runtime):
    from espalier.services.tags import tags_of

    make_device(serial_number="S1")
    make_device(serial_number="S2")

    def update(*operations, serials=("S1", "S2")):
        return client.post("/api/inventory/machines/tags/", headers=admin,
                           json={"serial_numbers": list(serials), "operations": list(operations)})

    resp = update({"kind": "ADD", "taxonomy": "ring", "names": ["beta"]}, {"kind": "ADD", "names": ["vip"]})
    assert resp.status_code == 200, resp.json
    assert resp.json == {"machines": {"found": 2}, "tags": {"added": 4, "removed": 0}}
    names = {t["name"]: t for t in client.get("/api/inventory/tags/", headers=admin).json}
    assert names["beta"]["taxonomy"] is not None and names["vip"]["taxonomy"] is None
    resp = update({"kind": "SET", "taxonomy": "ring", "names": ["alpha"]}, serials=["S1"])
    assert resp.json["tags"] == {"added": 1, "removed": 1}
    resp = update({"kind": "REMOVE", "names": ["vip"]}, serials=["S2"])
    assert resp.json["tags"] == {"added": 0, "removed": 1}
    names = {t["name"]: t["id"] for t in client.get("/api/inventory/tags/", headers=admin).json}
    with runtime.db.session() as s:
        assert tags_of(s, "S1") == {names["alpha"], names["vip"]}
        assert tags_of(s, "S2") == {names["beta"]}
    assert update({"kind": "SET", "names": ["x"]}).json == {
        "operations": {"0": {"taxonomy": ["This field is required for SET operations"]}}}
    assert update({"kind": "REMOVE", "taxonomy": "ring", "names": ["x"]}).status_code == 400
    assert update({"kind": "ADD", "names": []}).json == {
        "operations": {"0": {"names": ["This list may not be empty for ADD operations"]}}}
    assert update({"kind": "ADD", "names": ["x"]}, serials=[]).status_code == 400


def test_a_machines_tags_are_readable_by_serial_number(client, admin, make_device, make_token):
    make_device(serial_number="S1")
    client.post("/api/inventory/machines/tags/", headers=admin, json={
        "serial_numbers": ["S1"], "operations": [{"kind": "ADD", "names": ["vip", "beta"]}]})
    resp = client.get("/api/inventory/machines/S1/tags/", headers=admin)
    assert resp.status_code == 200
    assert resp.json["serial_number"] == "S1" and [t["name"] for t in resp.json["tags"]] == ["beta", "vip"]
    assert client.get("/api/inventory/machines/NOPE/tags/", headers=admin).json == {"serial_number": "NOPE",
                                                                                    "tags": []}
    assert client.get("/api/inventory/machines/S1/tags/", headers=make_token("inventory.view_tag")).status_code == 403
