"""When an inventory is due: the device's blueprint's interval, else the server's setting."""
from __future__ import annotations

import pytest


@pytest.fixture
def mdm_settings():
    return {"mtls_proxy": True}


@pytest.mark.parametrize(("blueprint_interval", "hours_since", "due"), [
    (None, 23, False), (None, 25, True),  # no blueprint: the server's setting (a day)
    (14400, 3, False), (14400, 5, True),  # the blueprint's four hours
    (604800, 25, False),  # a week on the blueprint: a day is not enough
])
def test_the_inventory_interval_is_the_blueprints(enrolled, client, admin, runtime, blueprint_interval,
                                                    hours_since, due):
    from datetime import timedelta

    from espalier.models import EnrolledDevice
    from espalier.models.base import utcnow

    sim, device_id = enrolled("mac")
    sim.connect()
    if blueprint_interval:
        bp = client.post("/api/mdm/blueprints/", headers=admin,
                         json={"name": "Fleet", "inventory_interval": blueprint_interval}).json
        assert client.patch(f"/api/mdm/devices/{device_id}/", headers=admin,
                            json={"blueprint": bp["id"]}).status_code == 200
    with runtime.db.session() as s, s.begin():
        device = s.get(EnrolledDevice, device_id)
        device.last_inventory_at = device.inventory_queued_at = utcnow() - timedelta(hours=hours_since)
    handled = [name for name, _ in sim.connect()]
    assert ("DeviceInformation" in handled) is due, handled
