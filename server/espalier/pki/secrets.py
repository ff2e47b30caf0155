"""Encryption at rest for every stored secret, bound to its row, with key rotation.

Each configured secret key derives an AES-256-GCM key (HKDF-SHA256). The first key
encrypts; every key decrypts, so a new key can be put first and stored values rewrapped
(``espalier secrets rewrap``, ``services.secrets``). The associated data names the table, the column and the
row's primary key, so a ciphertext copied into another column or onto another row (device
A's PRK pasted onto device B) does not decrypt there.

Format: ``v2:<key id>:<base64url(nonce || ciphertext)>``. ``v1`` values (bound to the
column only) are read solely by the migration that rebinds them.
"""
from __future__ import annotations

import base64
import hashlib
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import inspect
from sqlalchemy.orm import object_session

VERSION = "v2"


class SecretError(Exception):
    """A stored secret cannot be decrypted with any configured key."""


def _derive(secret: str) -> tuple[str, AESGCM]:
    material = secret.encode()
    kid = hashlib.sha256(b"espalier-key-id" + material).hexdigest()[:8]
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"espalier-secrets-v1").derive(material)
    return kid, AESGCM(key)


def row_context(table: str, column: str, pk: object) -> str:
    """The associated data of a value: ``table.column#pk``."""
    return f"{table}.{column}#{pk}"


def _context_of(row: object, column: str) -> str:
    """Bound to the row's primary key, or to the immutable unique column a model names in
    ``__secret_binding__`` (command rows: their uuid, known before the INSERT)."""
    state = inspect(row)
    table = state.mapper.local_table.name
    binding = getattr(row, "__secret_binding__", None)
    if binding is not None:
        key = getattr(row, binding)
        if key is None:
            raise SecretError(f"{table}.{column}: set {binding} before storing a secret")
        return row_context(table, column, key)
    if state.identity is None:  # a new row gets its primary key first
        session = object_session(row)
        if session is None:
            raise SecretError(f"{table}.{column}: the row must be added to a session before a secret is stored")
        session.flush()
    pk = state.identity
    return row_context(table, column, pk[0] if len(pk) == 1 else ",".join(map(str, pk)))


class SecretBox:
    def __init__(self, secret_keys: list[str]):
        if not secret_keys:
            raise ValueError("at least one secret key is required")
        self._keys = [_derive(k) for k in secret_keys]
        self._by_id = dict(self._keys)
        self._mac_key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                             info=b"espalier-fingerprints-v1").derive(secret_keys[0].encode())

    # -- values bound to a row: what the application uses ----------------------------------

    def seal(self, row: object, column: str, plaintext: bytes | str | None) -> None:
        """Store ``plaintext`` encrypted in ``row.column`` (None or empty clears it)."""
        if plaintext is None or plaintext in (b"", ""):
            setattr(row, column, None)
            return
        setattr(row, column, self.encrypt(plaintext, _context_of(row, column)))

    def open(self, row: object, column: str) -> bytes | None:
        token = getattr(row, column)
        return None if token is None else self.decrypt(token, _context_of(row, column))

    def open_str(self, row: object, column: str) -> str | None:
        value = self.open(row, column)
        return None if value is None else value.decode()

    # -- the primitive, for callers that hold the context themselves ------------------------

    def encrypt(self, plaintext: bytes | str, context: str) -> str:
        data = plaintext.encode() if isinstance(plaintext, str) else plaintext
        kid, aead = self._keys[0]
        nonce = os.urandom(12)
        blob = nonce + aead.encrypt(nonce, data, context.encode())
        return f"{VERSION}:{kid}:{base64.urlsafe_b64encode(blob).decode()}"

    def decrypt(self, token: str, context: str, *, version: str = VERSION) -> bytes:
        try:
            found, kid, b64 = token.split(":", 2)
            blob = base64.urlsafe_b64decode(b64)
        except (ValueError, AttributeError):
            raise SecretError(f"{context}: not an encrypted value") from None
        if found != version:
            raise SecretError(f"{context}: a {found} value where {version} is expected (run `espalier db upgrade`)")
        aead = self._by_id.get(kid)
        if aead is None or len(blob) < 13:
            raise SecretError(f"{context}: encrypted with an unknown key ({kid})")
        try:
            return aead.decrypt(blob[:12], blob[12:], context.encode())
        except InvalidTag:
            raise SecretError(f"{context}: cannot be decrypted (wrong key, another row's value, or tampered)") from None

    def fingerprint(self, data: bytes | str, purpose: str) -> str:
        """A keyed hash (HMAC-SHA256 under a key derived from the first secret key): equal
        inputs compare equal, and nothing about them can be guessed without the key."""
        import hmac

        material = data.encode() if isinstance(data, str) else data
        return hmac.new(self._mac_key + purpose.encode(), material, hashlib.sha256).hexdigest()

    def key_id(self, token: str) -> str | None:
        parts = token.split(":", 2)
        return parts[1] if len(parts) == 3 else None

    @property
    def primary_key_id(self) -> str:
        return self._keys[0][0]
