"""ADE server tokens: the key pair ABM encrypts to, the ``*_smime.p7m`` opened, the virtual server.

1. ``request_token`` makes an RSA key pair and a self-signed certificate (the key sealed in
   the row); the operator uploads the certificate PEM to ABM/ASM.
2. ABM gives a ``*_smime.p7m``: S/MIME whose body is CMS EnvelopedData to that certificate;
   inside, MIME headers and ``-----BEGIN MESSAGE-----{json}-----END MESSAGE-----`` with the
   OAuth credentials. ``upload_token`` opens it, seals the credentials, asks Apple's
   ``/account`` who the server is, and creates or updates the virtual server.
3. Renewing (``renew_token``) puts a new key pair on the server's token; the upload of the
   renewed p7m must be for the same server (its uuid), else it is refused and nothing changes.
"""
from __future__ import annotations

import base64
import binascii
import email
import json
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from sqlalchemy import select
from sqlalchemy.orm import Session

from espalier.apple.abm import ABMClient, ABMError, OAuthCredentials
from espalier.models import DEPOrganization, DEPToken, DEPVirtualServer, utcnow
from espalier.pki import cms
from espalier.pki.secrets import SecretBox
from espalier.services.errors import Conflict, NotFound, ServiceError

MAX_P7M_BYTES = 64 * 1024
CREDENTIAL_FIELDS = ("consumer_key", "consumer_secret", "access_token", "access_secret", "access_token_expiry")

# (credentials) -> a client; the tasks and the upload build it from the settings (tests: the fake)
ClientFactory = Callable[[OAuthCredentials], ABMClient]


def _err(field: str, message: str) -> ServiceError:
    return ServiceError(f"{field}: {message}", {field: [message]})


def _key_pair(name: str) -> tuple[str, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.now(timezone.utc)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem


def _new_pair(s: Session, box: SecretBox, token: DEPToken) -> None:
    if token.id is None:
        token.certificate = ""
        s.add(token)
        s.flush()
    token.certificate, key_pem = _key_pair(f"espalier-dep-token-{token.id}")
    box.seal(token, "private_key", key_pem)


def request_token(s: Session, box: SecretBox) -> DEPToken:
    """A new token row with its key pair; upload ``token.certificate`` to ABM."""
    token = DEPToken()
    _new_pair(s, box, token)
    s.flush()
    return token


def renew_token(s: Session, box: SecretBox, server_id: int) -> DEPToken:
    """A new key pair on the server's token (its credentials stay until the renewed p7m comes)."""
    server = get_server(s, server_id)
    token = s.get(DEPToken, server.token_id) if server.token_id else None
    if token is None:
        token = DEPToken()
        _new_pair(s, box, token)
        server.token_id = token.id
    else:
        _new_pair(s, box, token)
    s.flush()
    return token


def get_token(s: Session, token_id: int) -> DEPToken:
    token = s.get(DEPToken, token_id)
    if token is None:
        raise NotFound("No DEPToken matches the given query.")
    return token


def server_of(s: Session, token: DEPToken) -> DEPVirtualServer | None:
    return s.scalar(select(DEPVirtualServer).where(DEPVirtualServer.token_id == token.id))


def get_server(s: Session, server_id: int) -> DEPVirtualServer:
    server = s.get(DEPVirtualServer, server_id)
    if server is None:
        raise NotFound("No DEPVirtualServer matches the given query.")
    return server


# -- the p7m ---------------------------------------------------------------------------------

def _envelope_der(p7m: bytes) -> bytes:
    """The DER EnvelopedData of an S/MIME ``*_smime.p7m`` (base64 body), or of raw DER/base64."""
    if p7m[:1] == b"\x30":
        return p7m
    message = email.message_from_bytes(p7m)
    body = message.get_payload(decode=True) if not message.is_multipart() else None
    if body and body[:1] == b"\x30":
        return body
    try:  # a bare base64 body without MIME headers
        raw = base64.b64decode(b"".join(p7m.split()), validate=True)
    except (binascii.Error, ValueError):
        raise _err("token", "not an S/MIME message (*_smime.p7m)") from None
    if raw[:1] != b"\x30":
        raise _err("token", "not an S/MIME message (*_smime.p7m)")
    return raw


def _message_json(plaintext: bytes) -> dict:
    text = plaintext.decode("utf-8", "replace")
    start, end = text.find("-----BEGIN MESSAGE-----"), text.find("-----END MESSAGE-----")
    if start < 0 or end < start:
        raise _err("token", "the decrypted token has no BEGIN/END MESSAGE block")
    try:
        data = json.loads(text[start + len("-----BEGIN MESSAGE-----"):end].strip())
    except ValueError:
        raise _err("token", "the decrypted token is not JSON") from None
    if not isinstance(data, dict) or any(not isinstance(data.get(f), str) or not data.get(f)
                                         for f in CREDENTIAL_FIELDS):
        raise _err("token", f"the decrypted token must carry {', '.join(CREDENTIAL_FIELDS)}")
    return data


def open_p7m(box: SecretBox, token: DEPToken, p7m: bytes) -> dict:
    """The credentials inside ``p7m``; a 400 if it is not encrypted to this token's certificate."""
    if len(p7m) > MAX_P7M_BYTES:
        raise _err("token", f"larger than {MAX_P7M_BYTES} bytes: not a server token")
    der = _envelope_der(p7m)
    key = serialization.load_pem_private_key(box.open(token, "private_key"), None)
    cert = x509.load_pem_x509_certificate(token.certificate.encode())
    try:
        plaintext = cms.decrypt_enveloped(der, cert, key)
    except cms.CMSError as exc:
        raise _err("token", f"cannot be opened with this token's key ({exc}): was it downloaded after "
                            "uploading this token's certificate?") from None
    return _message_json(plaintext)


def _expiry(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _err("token", f"access_token_expiry {value[:40]!r} is not a date") from None
    return parsed.astimezone(timezone.utc).replace(tzinfo=None) if parsed.tzinfo else parsed


def credentials(box: SecretBox, token: DEPToken) -> OAuthCredentials:
    return OAuthCredentials(token.consumer_key, box.open_str(token, "consumer_secret"),
                            box.open_str(token, "access_token"), box.open_str(token, "access_secret"))


def upload_token(s: Session, box: SecretBox, token_id: int, p7m: bytes, make_client: ClientFactory) -> DEPVirtualServer:
    """Open ``p7m`` with the token's key, check the account with Apple, store it all."""
    token = get_token(s, token_id)
    data = open_p7m(box, token, p7m)
    creds = OAuthCredentials(data["consumer_key"], data["consumer_secret"], data["access_token"],
                             data["access_secret"])
    client = make_client(creds)
    try:
        account = client.account()
    except ABMError as exc:
        raise ServiceError(f"Apple refused the token: {exc}", {"token": [f"Apple refused the token: {exc}"]}) from None
    finally:
        client.close()
    server_uuid = str(account.get("server_uuid") or "")
    if not server_uuid:
        raise _err("token", "Apple's /account has no server_uuid")
    current = server_of(s, token)
    other = s.scalar(select(DEPVirtualServer).where(DEPVirtualServer.uuid == server_uuid))
    if current is not None and current.uuid != server_uuid:
        raise Conflict(f"this token is for the server {account.get('server_name')!r} ({server_uuid}), not "
                       f"{current.name!r} ({current.uuid}): download the token of that server in ABM")
    if current is None and other is not None:
        raise Conflict(f"the virtual server {other.name!r} ({server_uuid}) exists (#{other.id}): renew its token "
                       "instead (POST /api/mdm/dep/virtual_servers/<id>/renew_token/)")
    token.consumer_key = creds.consumer_key
    box.seal(token, "consumer_secret", creds.consumer_secret)
    box.seal(token, "access_token", creds.access_token)
    box.seal(token, "access_secret", creds.access_secret)
    token.access_token_expiry = _expiry(data["access_token_expiry"])
    org = _organization(s, account)
    server = current or DEPVirtualServer(uuid=server_uuid, token_id=token.id)
    server.name = str(account.get("server_name") or server_uuid)[:256]
    server.organization_id = org.id
    if current is None:
        s.add(server)
    s.flush()
    return server


def _organization(s: Session, account: dict[str, Any]) -> DEPOrganization:
    identifier = str(account.get("org_id") or account.get("org_id_hash") or "unknown")[:128]
    org = s.scalar(select(DEPOrganization).where(DEPOrganization.identifier == identifier))
    if org is None:
        org = DEPOrganization(identifier=identifier)
        s.add(org)
    org.name = str(account.get("org_name") or "")[:256]
    org.admin_id = str(account.get("admin_id") or "")[:256]
    org.email = str(account.get("org_email") or "")[:256]
    org.phone = str(account.get("org_phone") or "")[:256]
    org.address = str(account.get("org_address") or "")
    org.type = str(account.get("org_type") or "")[:16]
    org.version = str(account.get("org_version") or "")[:16]
    s.flush()
    return org


def expiring_tokens(s: Session, now: datetime | None = None) -> list[tuple[DEPVirtualServer, DEPToken]]:
    now = now or utcnow()
    rows = s.execute(select(DEPVirtualServer, DEPToken).join(DEPToken, DEPVirtualServer.token_id == DEPToken.id)
                     .order_by(DEPVirtualServer.id)).all()
    return [(server, token) for server, token in rows if token.is_expiring(now)]
