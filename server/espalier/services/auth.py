"""Users and API tokens: create, authenticate, revoke. Keys are shown once and stored hashed."""
from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from espalier import permissions as perms
from espalier.models import ApiToken, ApiTokenPermission, User, utcnow


class AuthError(Exception):
    pass


def hash_key(key: str) -> str:
    # Keys are 160 random bits, so a plain SHA-256 is enough; no slow KDF on every request.
    return hashlib.sha256(key.encode()).hexdigest()


def create_user(s: Session, username: str, email: str | None = None) -> User:
    if s.scalar(select(User).where(User.username == username)):
        raise AuthError(f"user {username!r} already exists")
    user = User(username=username, email=email)
    s.add(user)
    s.flush()
    return user


def get_or_create_user(s: Session, username: str) -> User:
    return s.scalar(select(User).where(User.username == username)) or create_user(s, username)


def create_token(s: Session, username: str, permissions: list[str] = (), roles: list[str] = (),
                 name: str = "") -> tuple[ApiToken, str]:
    """Create a token for an existing user; return it with its key (never stored in clear)."""
    user = s.scalar(select(User).where(User.username == username))
    if user is None:
        raise AuthError(f"unknown user {username!r}")
    try:
        codenames = perms.expand(permissions, roles)
    except ValueError as exc:
        raise AuthError(str(exc)) from None
    key = secrets.token_hex(20)
    token = ApiToken(user=user, name=name, prefix=key[:8], key_hash=hash_key(key),
                     permissions=[ApiTokenPermission(codename=c) for c in sorted(codenames)])
    s.add(token)
    s.flush()
    return token, key


def authenticate(s: Session, key: str) -> ApiToken | None:
    """The active token for ``key``, or None. One indexed lookup on the hash."""
    token = s.scalar(select(ApiToken).join(User).where(
        ApiToken.key_hash == hash_key(key), ApiToken.revoked_at.is_(None), User.is_active.is_(True)))
    if token is not None:
        now = utcnow()
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
            token.last_used_at = now  # throttled so reads don't write on every call
    return token


def revoke_token(s: Session, prefix: str) -> ApiToken:
    tokens = s.scalars(select(ApiToken).where(ApiToken.prefix == prefix[:8], ApiToken.revoked_at.is_(None))).all()
    if len(prefix) > 8:
        tokens = [t for t in tokens if t.key_hash == hash_key(prefix)]
    if not tokens:
        raise AuthError(f"no active token starts with {prefix[:8]!r}")
    if len(tokens) > 1:
        raise AuthError(f"several tokens start with {prefix[:8]!r}: pass the whole key")
    tokens[0].revoked_at = utcnow()
    return tokens[0]


def list_tokens(s: Session) -> list[ApiToken]:
    return list(s.scalars(select(ApiToken).order_by(ApiToken.id)))
