"""Encryption at rest for every stored secret, with key rotation.

Each configured secret key derives an AES-256-GCM key (HKDF-SHA256). The first key
encrypts; every key decrypts, so a new key can be put first and old values rewrapped
(``espalier secrets rewrap``). The ``context`` names the field a value belongs to and is
bound as associated data, so a ciphertext cannot be moved into another column.
Format: ``v1:<key id>:<base64url(nonce || ciphertext)>``.
"""
from __future__ import annotations

import base64
import hashlib
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class SecretError(Exception):
    """A stored secret cannot be decrypted with any configured key."""


def _derive(secret: str) -> tuple[str, AESGCM]:
    material = secret.encode()
    kid = hashlib.sha256(b"espalier-key-id" + material).hexdigest()[:8]
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"espalier-secrets-v1").derive(material)
    return kid, AESGCM(key)


class SecretBox:
    def __init__(self, secret_keys: list[str]):
        if not secret_keys:
            raise ValueError("at least one secret key is required")
        self._keys = [_derive(k) for k in secret_keys]
        self._by_id = dict(self._keys)

    def encrypt(self, plaintext: bytes | str, context: str) -> str:
        data = plaintext.encode() if isinstance(plaintext, str) else plaintext
        kid, aead = self._keys[0]
        nonce = os.urandom(12)
        blob = nonce + aead.encrypt(nonce, data, context.encode())
        return f"v1:{kid}:{base64.urlsafe_b64encode(blob).decode()}"

    def decrypt(self, token: str, context: str) -> bytes:
        try:
            version, kid, b64 = token.split(":", 2)
            blob = base64.urlsafe_b64decode(b64)
        except (ValueError, AttributeError):
            raise SecretError(f"{context}: not an encrypted value") from None
        aead = self._by_id.get(kid)
        if version != "v1" or aead is None or len(blob) < 13:
            raise SecretError(f"{context}: encrypted with an unknown key ({kid})")
        try:
            return aead.decrypt(blob[:12], blob[12:], context.encode())
        except InvalidTag:
            raise SecretError(f"{context}: cannot be decrypted (wrong key or tampered)") from None

    def decrypt_str(self, token: str, context: str) -> str:
        return self.decrypt(token, context).decode()

    def needs_rewrap(self, token: str) -> bool:
        return token.split(":", 2)[1] != self._keys[0][0] if token.count(":") >= 2 else True

    def rewrap(self, token: str, context: str) -> str:
        return self.encrypt(self.decrypt(token, context), context)
