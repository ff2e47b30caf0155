"""/api/mdm/software_update_enforcements/ and the blueprints' software_update_enforcements
(facts of Zentral's API tests: fields, validation texts, permissions, deletion refused in use)."""
from __future__ import annotations

URL = "/api/mdm/software_update_enforcements/"
FIELDS = ["id", "name", "details_url", "platforms", "tags", "max_os_version", "delay_days", "local_time",
          "os_version", "build_version", "local_datetime", "created_at", "updated_at"]


def create(client, headers, **data):
    return client.post(URL, headers=headers, json={"name": "Latest", "platforms": ["macOS"], **data})


def test_create_latest_defaults(client, admin):
    resp = create(client, admin, max_os_version="15")
    assert resp.status_code == 201, resp.json
    sue = resp.json
    assert list(sue) == FIELDS
    assert {k: v for k, v in sue.items() if k not in ("id", "created_at", "updated_at")} == {
        "name": "Latest", "details_url": "", "platforms": ["macOS"], "tags": [], "max_os_version": "15",
        "delay_days": 14, "local_time": "09:30:00", "os_version": "", "build_version": "", "local_datetime": None}
    assert client.get(URL, headers=admin).json == [sue]
    assert client.get(f"{URL}{sue['id']}/", headers=admin).json == sue


def test_create_one_time(client, admin):
    resp = create(client, admin, name="Once", os_version="14.1.1", local_datetime="2023-11-28T09:30")
    assert resp.status_code == 201, resp.json
    assert (resp.json["os_version"], resp.json["local_datetime"], resp.json["max_os_version"],
            resp.json["delay_days"], resp.json["local_time"]) == ("14.1.1", "2023-11-28T09:30:00", "", None, None)


def test_validation_texts(client, admin):
    cases = [
        ({"platforms": ["iOS", "tvOS"], "max_os_version": "ABC"}, {"max_os_version": ["Not a valid OS version"]}),
        ({"os_version": "ABC", "local_datetime": "2023-11-28T09:30"}, {"os_version": ["Not a valid OS version"]}),
        ({"max_os_version": "15", "os_version": "14.1"},
         {"non_field_errors": ["os_version and max_os_version cannot be both set"]}),
        ({"local_datetime": "2023-11-28T09:30"}, {"non_field_errors": ["os_version or max_os_version are required"]}),
        ({"os_version": "14.1"}, {"local_datetime": ["This field is required if os_version is used"]}),
        ({"max_os_version": "15", "build_version": "23A1", "local_datetime": "2023-11-28T09:30"},
         {"build_version": ["This field cannot be set if max_os_version is used"],
          "local_datetime": ["This field cannot be set if max_os_version is used"]}),
        ({"os_version": "14.1", "local_datetime": "2023-11-28T09:30", "delay_days": 3},
         {"delay_days": ["This field cannot be set if os_version is used"]}),
        ({"max_os_version": "15", "local_time": "25:00"},
         {"local_time": ["Time has wrong format. Use one of these formats instead: hh:mm[:ss[.uuuuuu]]."]}),
        ({"os_version": "14.1", "local_datetime": "tomorrow"}, {"local_datetime": [
            "Datetime has wrong format. Use one of these formats instead: "
            "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."]}),
        ({"max_os_version": "15", "platforms": ["Windows"]}, {"platforms": ['"Windows" is not a valid choice.']}),
        ({"max_os_version": "15", "platforms": []}, {"platforms": ["This list may not be empty."]}),
        ({"max_os_version": "15", "details_url": "nope"}, {"details_url": ["Enter a valid URL."]}),
        ({"max_os_version": "15", "delay_days": -1}, {"delay_days": ["Ensure this value is greater than or equal to 0."]}),
        ({"max_os_version": "15", "tags": [99]}, {"tags": ['Invalid pk "99" - object does not exist.']}),
    ]
    for data, errors in cases:
        resp = create(client, admin, **data)
        assert (resp.status_code, resp.json) == (400, errors), data
    resp = client.post(URL, headers=admin, json={"max_os_version": "15"})
    assert resp.json == {"name": ["This field is required."], "platforms": ["This field is required."]}
    assert create(client, admin, max_os_version="15").status_code == 201
    assert create(client, admin, max_os_version="16").json == {
        "name": ["software update enforcement with this name already exists."]}


def test_update_switches_mode_and_sets_tags(client, admin):
    tag = client.post("/api/inventory/tags/", headers=admin, json={"name": "beta"}).json
    sue = create(client, admin, max_os_version="15").json
    resp = client.put(f"{URL}{sue['id']}/", headers=admin, json={
        "name": "New", "details_url": "https://www.example.com", "platforms": ["macOS"], "tags": [tag["id"]],
        "max_os_version": "18.1.2", "delay_days": 3, "local_time": "11:11"})
    assert resp.status_code == 200, resp.json
    assert (resp.json["details_url"], resp.json["tags"], resp.json["delay_days"], resp.json["local_time"]) == (
        "https://www.example.com", [tag["id"]], 3, "11:11:00")
    resp = client.put(f"{URL}{sue['id']}/", headers=admin, json={
        "name": "New", "details_url": "", "platforms": ["iOS"], "tags": [], "os_version": "18.1.2",
        "build_version": "29B12", "local_datetime": "2028-12-12T11:11"})
    assert resp.status_code == 200, resp.json
    assert {k: resp.json[k] for k in FIELDS[2:11]} == {
        "details_url": "", "platforms": ["iOS"], "tags": [], "max_os_version": "", "delay_days": None,
        "local_time": None, "os_version": "18.1.2", "build_version": "29B12", "local_datetime": "2028-12-12T11:11:00"}
    # a tag deleted is dropped from the enforcement
    client.put(f"{URL}{sue['id']}/", headers=admin, json={"name": "New", "platforms": ["iOS"], "tags": [tag["id"]],
                                                          "max_os_version": "19"})
    assert client.delete(f"/api/inventory/tags/{tag['id']}/", headers=admin).status_code == 204
    assert client.get(f"{URL}{sue['id']}/", headers=admin).json["tags"] == []


def test_name_filter_and_pages(client, admin):
    a = create(client, admin, name="A", max_os_version="15").json
    b = create(client, admin, name="B", max_os_version="15").json
    assert client.get(f"{URL}?name=B", headers=admin).json == [b]
    page = client.get(f"{URL}?limit=1", headers=admin).json
    assert page["count"] == 2 and page["results"] == [a]


def test_permissions(client, make_token, admin):
    sue = create(client, admin, max_os_version="15").json
    detail = f"{URL}{sue['id']}/"
    body = {"name": "X", "platforms": ["macOS"], "max_os_version": "15"}
    nobody = make_token("mdm.view_blueprint")
    assert client.get(URL).status_code == 401
    assert client.get(URL, headers=nobody).status_code == 403
    assert client.get(detail, headers=nobody).status_code == 403
    assert client.post(URL, headers=nobody, json=body).status_code == 403
    assert client.put(detail, headers=nobody, json=body).status_code == 403
    assert client.delete(detail, headers=nobody).status_code == 403
    assert client.get(URL, headers=make_token("mdm.view_softwareupdateenforcement")).status_code == 200
    assert client.post(URL, headers=make_token("mdm.add_softwareupdateenforcement"), json=body).status_code == 201
    assert client.put(detail, headers=make_token("mdm.change_softwareupdateenforcement"),
                      json={**body, "name": "Y"}).status_code == 200
    assert client.delete(detail, headers=make_token("mdm.delete_softwareupdateenforcement")).status_code == 204
    assert client.get(detail, headers=admin).status_code == 404


def test_blueprints_list_enforcements_and_deletion_is_refused_in_use(client, admin):
    mac = create(client, admin, name="mac", max_os_version="15").json
    ios = create(client, admin, name="ios", platforms=["iOS"], max_os_version="18").json
    resp = client.post("/api/mdm/blueprints/", headers=admin, json={"name": "BP", "software_update_enforcements": [
        ios["id"], mac["id"]]})
    assert resp.status_code == 201, resp.json
    bp = resp.json
    assert bp["software_update_enforcements"] == sorted([mac["id"], ios["id"]])
    assert list(bp)[-3:] == ["software_update_enforcements", "created_at", "updated_at"]
    assert client.get(f"/api/mdm/blueprints/{bp['id']}/", headers=admin).json == bp
    assert client.get("/api/mdm/blueprints/", headers=admin).json == [bp]
    resp = client.delete(f"{URL}{mac['id']}/", headers=admin)
    assert (resp.status_code, resp.json) == (400, ["This software update enforcement cannot be deleted"])
    # a PUT without the field keeps them; with it, the list replaces them
    resp = client.put(f"/api/mdm/blueprints/{bp['id']}/", headers=admin, json={"name": "BP"})
    assert resp.json["software_update_enforcements"] == bp["software_update_enforcements"]
    resp = client.put(f"/api/mdm/blueprints/{bp['id']}/", headers=admin, json={
        "name": "BP", "software_update_enforcements": [ios["id"]]})
    assert resp.json["software_update_enforcements"] == [ios["id"]]
    assert client.delete(f"{URL}{mac['id']}/", headers=admin).status_code == 204
    resp = client.put(f"/api/mdm/blueprints/{bp['id']}/", headers=admin, json={
        "name": "BP", "software_update_enforcements": [mac["id"]]})
    assert (resp.status_code, resp.json) == (400, {"software_update_enforcements": [
        f'Invalid pk "{mac["id"]}" - object does not exist.']})
    resp = client.put(f"/api/mdm/blueprints/{bp['id']}/", headers=admin, json={
        "name": "BP", "software_update_enforcements": ["x"]})
    assert resp.json == {"software_update_enforcements": ["Incorrect type. Expected pk value, received str."]}
    assert client.delete(f"/api/mdm/blueprints/{bp['id']}/", headers=admin).status_code == 204
    assert client.delete(f"{URL}{ios['id']}/", headers=admin).status_code == 204
