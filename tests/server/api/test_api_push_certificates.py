"""Push certificates: add, renew with the same topic, refuse topic changes and bad pairs."""
from __future__ import annotations

from cryptography.hazmat.primitives import serialization

from fakes.push_certs import make_ca, make_push_cert


def body(pc, name="Main", password=None):
    key = pc.key_pem
    if password:
        key = pc.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                   serialization.BestAvailableEncryption(password.encode()))
    data = {"name": name, "certificate": pc.cert_pem.decode(), "private_key": key.decode()}
    if password:
        data["private_key_password"] = password
    return data


def test_add_reads_the_topic_and_encrypts_the_key(client, admin, runtime):
    from espalier.models import PushCertificate

    pc = make_push_cert(make_ca())
    resp = client.post("/api/mdm/push_certificates/", headers=admin, json=body(pc, password="s3cret"))
    assert resp.status_code == 201, resp.json
    assert resp.json["topic"] == pc.topic and resp.json["status"] == "ok"
    assert resp.json["expiring"] is False and resp.json["days_left"] >= 363
    with runtime.db.session() as s:
        row = s.get(PushCertificate, resp.json["id"])
    assert "PRIVATE KEY" not in row.private_key


def test_adding_an_existing_topic_says_renew(client, admin):
    ca = make_ca()
    pc = make_push_cert(ca)
    client.post("/api/mdm/push_certificates/", headers=admin, json=body(pc))
    again = make_push_cert(ca, topic_uuid=pc.topic.rsplit(".", 1)[1])
    resp = client.post("/api/mdm/push_certificates/", headers=admin, json=body(again, name="Other"))
    assert resp.status_code == 400
    assert "renew the existing certificate instead" in resp.json["certificate"][0]


def test_renew_keeps_the_topic(client, admin):
    ca = make_ca()
    pc = make_push_cert(ca, days=20)
    created = client.post("/api/mdm/push_certificates/", headers=admin, json=body(pc)).json
    assert created["expiring"] is True
    renewed = make_push_cert(ca, topic_uuid=pc.topic.rsplit(".", 1)[1], days=365)
    resp = client.put(f"/api/mdm/push_certificates/{created['id']}/", headers=admin, json=body(renewed))
    assert resp.status_code == 200
    assert resp.json["topic"] == pc.topic and resp.json["not_after"] > created["not_after"]
    assert resp.json["expiring"] is False


def test_renew_with_another_topic_names_both(client, admin):
    ca = make_ca()
    pc, other = make_push_cert(ca), make_push_cert(ca)
    created = client.post("/api/mdm/push_certificates/", headers=admin, json=body(pc)).json
    resp = client.put(f"/api/mdm/push_certificates/{created['id']}/", headers=admin, json=body(other))
    assert resp.status_code == 400
    assert pc.topic in resp.json["certificate"][0] and other.topic in resp.json["certificate"][0]
    assert client.get(f"/api/mdm/push_certificates/{created['id']}/", headers=admin).json["topic"] == pc.topic


def test_key_must_match_and_password_must_be_right(client, admin):
    ca = make_ca()
    pc, other = make_push_cert(ca), make_push_cert(ca)
    data = body(pc)
    data["private_key"] = other.key_pem.decode()
    resp = client.post("/api/mdm/push_certificates/", headers=admin, json=data)
    assert resp.status_code == 400 and resp.json == {"private_key": ["does not match the certificate"]}
    data = body(pc, password="right")
    data["private_key_password"] = "wrong"
    resp = client.post("/api/mdm/push_certificates/", headers=admin, json=data)
    assert resp.status_code == 400 and "wrong password" in resp.json["private_key"][0]
    data = body(pc, password="right")
    del data["private_key_password"]
    resp = client.post("/api/mdm/push_certificates/", headers=admin, json=data)
    assert resp.status_code == 400 and "private_key_password" in resp.json
    resp = client.post("/api/mdm/push_certificates/", headers=admin, json={"name": "x", "certificate": "nope",
                                                                             "private_key": "nope"})
    assert resp.status_code == 400 and resp.json == {"certificate": ["not a PEM certificate"]}


def test_expired_certificate_shows_expired(client, admin, runtime):
    from datetime import timedelta

    from espalier.models import PushCertificate

    pc = make_push_cert(make_ca())
    created = client.post("/api/mdm/push_certificates/", headers=admin, json=body(pc)).json
    with runtime.db.session() as s, s.begin():
        row = s.get(PushCertificate, created["id"])
        row.not_after = row.not_before + timedelta(seconds=1)
    assert client.get(f"/api/mdm/push_certificates/{created['id']}/", headers=admin).json["status"] == "expired"


def test_renew_refuses_a_taken_name_and_bad_types(client, admin):
    ca = make_ca()
    a, b = make_push_cert(ca), make_push_cert(ca)
    first = client.post("/api/mdm/push_certificates/", headers=admin, json=body(a, name="A")).json
    client.post("/api/mdm/push_certificates/", headers=admin, json=body(b, name="B"))
    same = make_push_cert(ca, topic_uuid=a.topic.rsplit(".", 1)[1])
    resp = client.put(f"/api/mdm/push_certificates/{first['id']}/", headers=admin, json=body(same, name="B"))
    assert resp.status_code == 400 and resp.json == {"name": ["push certificate with this name already exists."]}
    data = body(same, name="A")
    data["private_key_password"] = ["1234"]
    resp = client.put(f"/api/mdm/push_certificates/{first['id']}/", headers=admin, json=data)
    assert resp.status_code == 400 and resp.json == {"private_key_password": ["Not a valid string."]}
    data["private_key_password"] = 1234  # read as text, as DRF does; the key is not encrypted: unused
    assert client.put(f"/api/mdm/push_certificates/{first['id']}/", headers=admin, json=data).status_code == 200
    page = client.get("/api/mdm/push_certificates/?limit=1", headers=admin).json
    assert page["count"] == 2 and len(page["results"]) == 1


def test_renew_refuses_an_older_or_an_expired_certificate_unless_forced(client, admin):
    """A renewal that expires earlier is an old download: push_certificate used to accept it."""
    ca = make_ca()
    pc = make_push_cert(ca, days=300)
    created = client.post("/api/mdm/push_certificates/", headers=admin, json=body(pc)).json
    topic = pc.topic.rsplit(".", 1)[1]
    older = make_push_cert(ca, topic_uuid=topic, days=100)
    resp = client.put(f"/api/mdm/push_certificates/{created['id']}/", headers=admin, json=body(older))
    assert resp.status_code == 400 and "before the current one" in resp.json["certificate"][0]
    expired = make_push_cert(ca, topic_uuid=topic, days=-1)
    resp = client.put(f"/api/mdm/push_certificates/{created['id']}/", headers=admin, json=body(expired))
    assert resp.status_code == 400 and "expired on" in resp.json["certificate"][0]
    assert client.get(f"/api/mdm/push_certificates/{created['id']}/", headers=admin).json["not_after"] == \
        created["not_after"]
    resp = client.put(f"/api/mdm/push_certificates/{created['id']}/", headers=admin,
                      json={**body(older), "force": True})
    assert resp.status_code == 200 and resp.json["not_after"] < created["not_after"]
