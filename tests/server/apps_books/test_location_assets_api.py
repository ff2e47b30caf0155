"""GET /api/mdm/location_assets/: Zentral's fields, filters and permission."""
from __future__ import annotations

from espalier.tasks import apps_books as jobs

FIELDS = ["id", "assigned_count", "available_count", "retired_count", "total_count", "created_at", "updated_at",
          "location", "asset"]


def test_location_assets(fake, upload, client, make_token, runtime):
    paris = fake.add_location(name="Paris", assets=[("361309726", "STDQ", 10), ("361309726", "PLUS", 2)])
    paris.assign("361309726", "STDQ", "C02A")
    lyon = fake.add_location(name="Lyon", assets=[("361309726", "STDQ", 4), ("284882215", "STDQ", 1)])
    paris_id, lyon_id = upload(paris).json["id"], upload(lyon).json["id"]
    jobs.sync_location(runtime, paris_id)
    jobs.sync_location(runtime, lyon_id)
    viewer = make_token("mdm.view_locationasset")

    items = client.get("/api/mdm/location_assets/", headers=viewer).json
    assert len(items) == 4 and list(items[0]) == FIELDS
    first = items[0]
    assert (first["location"], first["assigned_count"], first["available_count"], first["retired_count"],
            first["total_count"]) == (paris_id, 1, 9, 0, 10)
    assert len({i["asset"] for i in items}) == 3  # one asset bought in two locations is one asset

    def ids(query):
        resp = client.get(f"/api/mdm/location_assets/?{query}", headers=viewer)
        assert resp.status_code == 200, resp.json
        return sorted((i["location"], i["total_count"]) for i in resp.json)

    assert ids("adam_id=361309726") == [(paris_id, 2), (paris_id, 10), (lyon_id, 4)]
    assert ids("adam_id=361309726&pricing_param=PLUS") == [(paris_id, 2)]
    assert ids(f"location_id={lyon_id}") == [(lyon_id, 1), (lyon_id, 4)]
    assert ids(f"location_id={lyon_id}&adam_id=361309726") == [(lyon_id, 4)]
    assert ids("location_id=&adam_id=") == ids("")
    for bad in ("999999", "abc", "99999999999999"):
        resp = client.get(f"/api/mdm/location_assets/?location_id={bad}", headers=viewer)
        assert resp.status_code == 400 and resp.json == {"location_id": [
            "Select a valid choice. That choice is not one of the available choices."]}
    page = client.get("/api/mdm/location_assets/?limit=3", headers=viewer).json
    assert page["count"] == 4 and len(page["results"]) == 3

    assert client.get("/api/mdm/location_assets/").status_code == 401
    assert client.get("/api/mdm/location_assets/", headers=make_token("mdm.view_location")).status_code == 403
