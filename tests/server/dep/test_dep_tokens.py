"""Server tokens: the p7m opened with the token's key, encryption at rest, renewal kept to its server."""
from __future__ import annotations

import datetime as dt

import pytest
from fakes.abm import FakeABM
from sqlalchemy import select, text

from espalier.apple.abm import ABMClient
from espalier.models import DEPOrganization, DEPToken, DEPVirtualServer, utcnow
from espalier.pki.secrets import SecretError
from espalier.services import dep_tokens
from espalier.services.errors import Conflict, ServiceError
from espalier.tasks import dep


def request(runtime):
    with runtime.db.session() as s, s.begin():
        token = dep_tokens.request_token(s, runtime.secrets)
        return token.id, token.certificate


def upload(runtime, token_id, p7m, make_client):
    with runtime.db.session() as s, s.begin():
        return dep_tokens.upload_token(s, runtime.secrets, token_id, p7m, make_client).id


def test_upload_creates_the_virtual_server(runtime, fake, make_client):
    token_id, certificate = request(runtime)
    assert certificate.startswith("-----BEGIN CERTIFICATE-----")
    server_id = upload(runtime, token_id, fake.server_token_p7m(certificate), make_client)
    with runtime.db.session() as s:
        server = s.get(DEPVirtualServer, server_id)
        org = s.get(DEPOrganization, server.organization_id)
        token = s.get(DEPToken, server.token_id)
        assert (server.uuid, server.name) == (fake.account["server_uuid"], fake.account["server_name"])
        assert (org.identifier, org.name, org.admin_id) == ("1234567", "Fake Org", "admin@example.com")
        assert token.has_credentials and 360 <= token.days_left() <= 366 and not token.is_expiring()
        creds = dep_tokens.credentials(runtime.secrets, token)
        assert creds.consumer_key in fake.credentials


def test_secrets_are_encrypted_at_rest_and_bound_to_the_row(runtime, fake, make_client):
    token_id, certificate = request(runtime)
    upload(runtime, token_id, fake.server_token_p7m(certificate), make_client)
    creds = next(iter(fake.credentials.values()))
    with runtime.db.engine.connect() as conn:
        row = conn.execute(text("SELECT private_key, consumer_secret, access_token, access_secret FROM dep_tokens")).one()
    for value in row:
        assert value.startswith("v2:")
    raw = " ".join(row)
    assert creds.consumer_secret not in raw and creds.access_token not in raw and "PRIVATE KEY" not in raw
    with runtime.db.session() as s, s.begin():  # a ciphertext copied to another row does not open
        other = dep_tokens.request_token(s, runtime.secrets)
        other.access_token = row.access_token
        with pytest.raises(SecretError):
            runtime.secrets.open(other, "access_token")


def test_p7m_for_another_certificate_is_refused(runtime, fake, make_client):
    token_id, _ = request(runtime)
    _, other_certificate = request(runtime)
    with pytest.raises(ServiceError) as err:
        upload(runtime, token_id, fake.server_token_p7m(other_certificate), make_client)
    assert err.value.status == 400 and "cannot be opened with this token's key" in err.value.errors["token"][0]
    with pytest.raises(ServiceError):
        upload(runtime, token_id, b"not a p7m at all", make_client)
    with runtime.db.session() as s:
        assert s.scalar(select(DEPVirtualServer)) is None


def test_renewal_keeps_the_server_and_refuses_another_servers_token(runtime, fake, make_client, server_id):
    with runtime.db.session() as s, s.begin():
        token = dep_tokens.renew_token(s, runtime.secrets, server_id)
        token_id, certificate = token.id, token.certificate
    with FakeABM(server_name="Another server") as other:
        def other_factory(creds):
            return ABMClient(creds, base_url=other.base_url, verify=other.ca_file)

        with pytest.raises(Conflict) as err:
            upload(runtime, token_id, other.server_token_p7m(certificate), other_factory)
        assert err.value.status == 409 and "not 'Fake MDM server'" in err.value.detail
    with runtime.db.session() as s:  # the old credentials are still in use
        token = s.get(DEPToken, token_id)
        assert dep_tokens.credentials(runtime.secrets, token).consumer_key in fake.credentials
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=400)
    assert upload(runtime, token_id, fake.server_token_p7m(certificate, expiry=later), make_client) == server_id
    with runtime.db.session() as s:
        assert s.get(DEPToken, token_id).days_left() >= 399
        assert len(s.scalars(select(DEPVirtualServer)).all()) == 1


def test_a_new_token_for_an_existing_server_is_refused(runtime, fake, make_client, server_id):
    token_id, certificate = request(runtime)
    with pytest.raises(Conflict) as err:
        upload(runtime, token_id, fake.server_token_p7m(certificate), make_client)
    assert "renew its token instead" in err.value.detail


def test_apple_refusing_the_token_is_a_400(runtime, fake, make_client):
    token_id, certificate = request(runtime)
    creds = fake.issue_credentials(expiry=dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1))
    with pytest.raises(ServiceError) as err:
        upload(runtime, token_id, fake.server_token_p7m(certificate, credentials=creds), make_client)
    assert err.value.status == 400 and "token_expired" in err.value.detail


def test_expiring_tokens_are_surfaced(runtime, fake, make_client, caplog):
    token_id, certificate = request(runtime)
    soon = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=10)
    upload(runtime, token_id, fake.server_token_p7m(certificate, expiry=soon), make_client)
    with runtime.db.session() as s:
        token = s.get(DEPToken, token_id)
        assert token.is_expiring() and not token.is_expired() and token.days_left() in (9, 10)
        assert token.is_expired(utcnow() + dt.timedelta(days=11))
    out = dep.check_dep_tokens(runtime)
    assert out == {"expiring": [fake.account["server_uuid"]], "expired": []}
    assert "expires in" in caplog.text
