"""Syncing Apple's software update catalogue from the fake feed: counts, idempotence, removal,
TLS refused with the wrong CA, oversized, slow and junk feeds failing cleanly; the API."""
from __future__ import annotations

import copy
import json

import pytest
from fakes.gdmf import CATALOGUE, CATALOGUE_ENTRIES, IPHONE_IDS, MAC_IDS
from sqlalchemy import func, select

from espalier.models import SoftwareUpdate, SoftwareUpdateDeviceID, TaskResult
from espalier.runtime import build
from espalier.tasks import software_updates as job


def sync(client, headers):
    resp = client.post("/api/mdm/software_updates/sync/", headers=headers)
    assert resp.status_code == 201, resp.json
    assert sorted(resp.json) == ["task_id", "task_result_url"]
    assert resp.json["task_result_url"] == f"/api/task_result/{resp.json['task_id']}/"
    return client.get(resp.json["task_result_url"], headers=headers).json


def counts(db):
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(SoftwareUpdate)), \
            s.scalar(select(func.count()).select_from(SoftwareUpdateDeviceID))


def test_sync_creates_then_is_idempotent(client, admin, gdmf, db):
    task = sync(client, admin)
    assert task["status"] == "SUCCESS", task
    assert task["name"] == "sync_software_updates"
    assert task["result"] == {"created": CATALOGUE_ENTRIES, "deleted": 0, "present": 0}
    first = counts(db)
    assert first[0] == CATALOGUE_ENTRIES and first[1] > CATALOGUE_ENTRIES
    task = sync(client, admin)
    assert task["result"] == {"created": 0, "deleted": 0, "present": CATALOGUE_ENTRIES}
    assert counts(db) == first
    assert gdmf.requests >= 2


def test_a_sync_moves_the_convergence_epoch_only_when_it_changes_the_catalogue(client, admin, gdmf, db):
    """A device's DDM mark stands while the catalogue its enforcement picks from is unchanged."""
    from espalier.models.convergence_epoch import CURRENT

    def epoch():
        with db.session() as s:
            return s.scalar(CURRENT)

    before = epoch()
    assert sync(client, admin)["result"]["created"] == CATALOGUE_ENTRIES
    after = epoch()
    assert after > before
    assert sync(client, admin)["result"]["created"] == 0
    assert epoch() == after


def test_sync_follows_the_feed(client, admin, gdmf, db):
    assert sync(client, admin)["status"] == "SUCCESS"
    feed = copy.deepcopy(CATALOGUE)
    feed["AssetSets"]["macOS"].pop()  # 14.7 left the feed
    feed["AssetSets"]["macOS"][0]["SupportedDevices"] = MAC_IDS[:1] + ["NEW1AP"]  # 15.1's devices changed
    feed["AssetSets"]["iOS"][0]["Build"] = "22B91"  # a changed entry is another entry
    gdmf.feed = feed
    task = sync(client, admin)
    assert task["result"] == {"created": 1, "deleted": 2, "present": CATALOGUE_ENTRIES - 2}
    with db.session() as s:
        macos = s.scalar(select(SoftwareUpdate).where(SoftwareUpdate.platform == "macOS", SoftwareUpdate.major == 15,
                                                      SoftwareUpdate.minor == 1, SoftwareUpdate.public.is_(False)))
        ids = set(s.scalars(select(SoftwareUpdateDeviceID.device_id)
                            .where(SoftwareUpdateDeviceID.software_update_id == macos.id)))
        assert ids == {MAC_IDS[0], "NEW1AP"}
        assert not s.scalar(select(func.count()).select_from(SoftwareUpdate).where(
            SoftwareUpdate.major == 14, SoftwareUpdate.minor == 7, SoftwareUpdate.patch == 0))
        builds = set(s.scalars(select(SoftwareUpdate.build).where(SoftwareUpdate.platform == "iOS")))
        assert "22B91" in builds


def test_what_a_synced_entry_holds(client, admin, gdmf, db):
    sync(client, admin)
    with db.session() as s:
        rows = list(s.scalars(select(SoftwareUpdate).where(SoftwareUpdate.platform == "macOS")))
    by = {(r.major, r.minor, r.patch, r.extra, r.public): r for r in rows}
    rsr = by[(15, 1, 0, "(a)", True)]
    assert (rsr.build, rsr.prerequisite_build, rsr.os_version) == ("24B83a", "24B83", "15.1 (a)")
    expiring = by[(15, 0, 1, "", False)]
    assert str(expiring.posting_date) == "2024-10-03" and str(expiring.expiration_date) == "2025-01-28"
    assert expiring.os_version == "15.0.1" and expiring.build == "24A348"
    assert by[(15, 1, 0, "", True)].expiration_date is None


def test_the_catalogue_api(client, admin, make_token, gdmf):
    sync(client, admin)
    resp = client.get("/api/mdm/software_updates/", headers=make_token("mdm.view_softwareupdate"))
    assert resp.status_code == 200
    assert len(resp.json) == CATALOGUE_ENTRIES
    ios = client.get("/api/mdm/software_updates/?platform=iOS", headers=admin).json
    assert [(u["major"], u["minor"], u["patch"], u["public"]) for u in ios] == [
        (18, 1, 0, False), (18, 1, 0, True), (18, 0, 1, False), (17, 7, 1, False), (17, 7, 1, True), (17, 7, 0, False)]
    first = ios[0]
    assert set(first) == {"id", "platform", "major", "minor", "patch", "extra", "prerequisite_build", "build",
                          "public", "posting_date", "expiration_date", "supported_devices", "created_at",
                          "updated_at"}
    assert first["build"] == "22B83" and first["posting_date"] == "2024-10-28" and first["expiration_date"] is None
    assert set(IPHONE_IDS) <= set(first["supported_devices"])
    page = client.get("/api/mdm/software_updates/?platform=iOS&limit=2", headers=admin).json
    assert page["count"] == 6 and len(page["results"]) == 2 and page["next"]
    assert client.get("/api/mdm/software_updates/", headers=make_token("mdm.view_blueprint")).status_code == 403
    assert client.get("/api/mdm/software_updates/").status_code == 401


def test_sync_needs_the_three_permissions(client, make_token, gdmf):
    for permissions in (("mdm.change_softwareupdate",), ("mdm.add_softwareupdate", "mdm.change_softwareupdate")):
        assert client.post("/api/mdm/software_updates/sync/", headers=make_token(*permissions)).status_code == 403
    assert client.post("/api/mdm/software_updates/sync/").status_code == 401
    headers = make_token("mdm.add_softwareupdate", "mdm.change_softwareupdate", "mdm.delete_softwareupdate")
    assert sync(client, headers)["status"] == "SUCCESS"


@pytest.fixture
def other_runtime(settings_factory, pg_url, runtime, gdmf):
    """A runtime with its own software_updates settings (``runtime`` truncates after the test)."""
    made = []

    def factory(**software_updates):
        rt = build(settings_factory(pg_url, software_updates={"url": gdmf.url, "ca_bundle": gdmf.ca_file,
                                                              **software_updates}))
        made.append(rt)
        return rt
    yield factory
    for rt in made:
        rt.close()


def _fails(rt, text):
    with pytest.raises(job.FeedUnavailable) as info:
        job.sync_software_updates(rt)
    assert text in str(info.value)


def test_the_wrong_ca_is_refused_and_nothing_changes(other_runtime, gdmf, db):
    rt = other_runtime()
    assert job.sync_software_updates(rt)["created"] == CATALOGUE_ENTRIES
    before = counts(db)
    _fails(other_runtime(ca_bundle=gdmf.other_ca_file), "CERTIFICATE_VERIFY_FAILED")
    assert counts(db) == before
    # the default bundle (Apple Root CA) does not trust the fake either
    from espalier.apple import gdmf as client

    with pytest.raises(client.FeedError, match="CERTIFICATE_VERIFY_FAILED"):
        client.fetch(gdmf.url)


@pytest.mark.parametrize("body, text", [
    (b"not json", "not JSON"),
    (b"[1, 2]", "not a JSON object"),
    (b"{}", "none of PublicAssetSets"),
    (json.dumps({"AssetSets": {"macOS": [{"ProductVersion": "x"}]}}).encode(), "not a version"),
    (json.dumps({"AssetSets": {"macOS": [{"ProductVersion": "14.1", "PostingDate": "yesterday",
                                          "SupportedDevices": []}]}}).encode(), "not a YYYY-MM-DD date"),
    (json.dumps({"AssetSets": {"macOS": [{"ProductVersion": "14.1", "PostingDate": "2024-01-01",
                                          "SupportedDevices": [{"x": 1}]}]}}).encode(), "short identifier"),
    (json.dumps({"AssetSets": {"macOS": {"14.1": 1}}}).encode(), "not a list"),
])
def test_a_junk_feed_fails_the_task_and_keeps_the_catalogue(client, admin, gdmf, db, body, text):
    assert sync(client, admin)["status"] == "SUCCESS"
    before = counts(db)
    gdmf.body = body
    task = sync(client, admin)
    assert task["status"] == "FAILURE" and text in task["error"], task
    assert counts(db) == before


def test_an_oversized_feed_is_refused(other_runtime, gdmf, db):
    _fails(other_runtime(max_bytes=1000), "larger than 1000 bytes")
    gdmf.dribble = 0.001  # no Content-Length: counted as it arrives
    _fails(other_runtime(max_bytes=2000), "larger than 2000 bytes")
    assert counts(db) == (0, 0)


def test_a_slow_feed_is_cut_off(other_runtime, gdmf):
    gdmf.dribble = 0.7
    _fails(other_runtime(timeout_seconds=1), "took longer than 1 s")


def test_an_error_answer_fails(client, admin, gdmf, db):
    gdmf.status = 503
    task = sync(client, admin)
    assert task["status"] == "FAILURE" and "answered 503" in task["error"]
    with db.session() as s:
        assert s.scalar(select(TaskResult.status)) == "failed"


def test_the_beat_syncs_daily_by_default(runtime, settings_factory, pg_url):
    from espalier.tasks.periodic import Beat

    assert {e.name: e.seconds for e in Beat(runtime).schedule}["sync-software-updates"] == 86400
    rt = build(settings_factory(pg_url, software_updates={"sync_seconds": 3600}))
    try:
        entry = [e for e in Beat(rt).schedule if e.name == "sync-software-updates"][0]
        assert entry.seconds == 3600 and entry.queue == "sync" and entry.func is job.sync_software_updates
        assert rt.settings.mdm["software_updates"]["url"] == "https://gdmf.apple.com/v2/pmv"
        assert rt.settings.mdm["software_updates"]["ca_bundle"] is None
    finally:
        rt.close()


def test_settings_are_checked(settings_factory, pg_url, tmp_path):
    from espalier.settings import SettingsError

    with pytest.raises(SettingsError, match="software_updates.ca_bundle: no such file"):
        settings_factory(pg_url, software_updates={"ca_bundle": str(tmp_path / "missing.pem")})
    with pytest.raises(SettingsError, match="software_updates.url: must start with https"):
        settings_factory(pg_url, software_updates={"url": "http://gdmf.apple.com/v2/pmv"})


def test_apple_root_ca_is_the_default_bundle():
    from cryptography import x509

    from espalier.apple import gdmf as client

    (root,) = x509.load_pem_x509_certificates(client.APPLE_ROOT_CA.read_bytes())
    assert root.subject == root.issuer and "Apple Root CA" in root.subject.rfc4514_string()
    assert client.ssl_context(None).get_ca_certs()[0]["subject"][-1] == (("commonName", "Apple Root CA"),)


def test_an_entry_listed_twice_is_one_with_both_device_lists():
    from espalier.apple import gdmf as client

    entry = {"ProductVersion": "14.7", "Build": "23H124", "PostingDate": "2024-09-16", "SupportedDevices": ["A1"]}
    feed = {"AssetSets": {"macOS": [entry, {**entry, "SupportedDevices": ["B2", "A1"]}]}}
    (parsed,) = client.parse(feed)
    assert parsed.device_ids == {"A1", "B2"} and (parsed.major, parsed.minor, parsed.patch) == (14, 7, 0)
    assert parsed.public is False and parsed.expiration_date is None
