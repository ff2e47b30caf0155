"""Users and API tokens: create, authenticate, revoke. Keys are shown once and stored hashed."""
from __future__ import annotations

import hashlib
import secrets
import threading
import time

from dataclasses import dataclass

from sqlalchemy import and_, func, select, update
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


CONSOLE_TOKEN = "console"  # the token whose permissions a password login gets


def _hasher():
    from argon2 import PasswordHasher

    return PasswordHasher()


def set_password(s: Session, username: str, password: str, permissions: list[str] = (),
                 roles: list[str] = ()) -> User:
    """Set the console password; the given permissions/roles replace the user's console token."""
    user = s.scalar(select(User).where(User.username == username))
    if user is None:
        raise AuthError(f"unknown user {username!r}")
    if len(password) < 8:
        raise AuthError("the password must have at least 8 characters")
    user.password_hash = _hasher().hash(password)
    if permissions or roles:
        for old in s.scalars(select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.name == CONSOLE_TOKEN,
                                                    ApiToken.revoked_at.is_(None))):
            old.revoked_at = utcnow()
            verified.forget(old.key_hash)
        create_token(s, username, permissions, roles, CONSOLE_TOKEN)
    return user


def login(s: Session, username: str, password: str) -> int | None:
    """The id of the console token of an active user whose password matches, or None."""
    from argon2.exceptions import InvalidHashError, VerificationError

    user = s.scalar(select(User).where(User.username == username, User.is_active.is_(True)))
    if user is None or not user.password_hash:
        _hasher().hash(password)  # the same cost whether or not the user exists
        return None
    try:
        _hasher().verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    return s.scalar(select(ApiToken.id).where(ApiToken.user_id == user.id, ApiToken.name == CONSOLE_TOKEN,
                                              ApiToken.revoked_at.is_(None)).order_by(ApiToken.id.desc()))


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


@dataclass(frozen=True)
class Authenticated:
    token_id: int
    user_id: int
    missing: tuple[str, ...]  # required permissions this token lacks


TOKEN_SECONDS = 5.0  # how long a process trusts a token it verified: the bound on revocation
TOKEN_KEYS = 4096  # verified tokens kept; past that the cache starts again


class VerifiedTokens:
    """Tokens this process verified in the last ``seconds``, by key hash and required permissions.

    A request whose token was verified moments ago skips the database. What a token may do
    never changes (its permissions are fixed at creation); a token revoked or a user
    deactivated elsewhere (the CLI, another worker) is refused by every process within
    ``seconds``, and at once by the process that revoked it (``revoke_token``). Only
    complete grants are kept: an unknown key, or a token lacking a permission, is looked up
    every time.
    """

    def __init__(self, seconds: float = TOKEN_SECONDS, clock=time.monotonic) -> None:
        self.seconds, self.clock = seconds, clock
        self._tokens: dict[str, dict[tuple[str, ...], tuple[float, Authenticated]]] = {}
        self._lock = threading.Lock()

    def get(self, key_hash: str, required: tuple[str, ...]) -> Authenticated | None:
        kept = self._tokens.get(key_hash, {}).get(required)
        if kept is None or self.clock() - kept[0] > self.seconds:
            return None
        return kept[1]

    def put(self, key_hash: str, required: tuple[str, ...], caller: Authenticated) -> None:
        with self._lock:
            if len(self._tokens) >= TOKEN_KEYS:
                self._tokens.clear()
            self._tokens.setdefault(key_hash, {})[required] = (self.clock(), caller)

    def forget(self, key_hash: str) -> None:
        with self._lock:
            self._tokens.pop(key_hash, None)


verified = VerifiedTokens()  # per process, like the database pool


def authenticate(s: Session, key: str, required: tuple[str, ...] = ()) -> Authenticated | None:
    """The active token for ``key`` and which of ``required`` it lacks, or None.

    A token this process verified in the last seconds is taken from ``verified``; otherwise
    one indexed statement: the hash lookup joined with just the required permissions (an
    admin token has dozens; loading them all on every request cost half the API's CPU).
    """
    key_hash = hash_key(key)
    caller = verified.get(key_hash, required)
    if caller is not None:
        return caller
    granted = func.count(ApiTokenPermission.codename)
    row = s.execute(
        select(ApiToken.id, ApiToken.user_id, ApiToken.last_used_at, granted)
        .join(User, User.id == ApiToken.user_id)
        .outerjoin(ApiTokenPermission, and_(ApiTokenPermission.token_id == ApiToken.id,
                                            ApiTokenPermission.codename.in_(required or ("",))))
        .where(ApiToken.key_hash == key_hash, ApiToken.revoked_at.is_(None), User.is_active.is_(True))
        .group_by(ApiToken.id, ApiToken.user_id, ApiToken.last_used_at)).first()
    if row is None:
        return None
    missing: tuple[str, ...] = ()
    if row[3] < len(set(required)):
        have = set(s.scalars(select(ApiTokenPermission.codename).where(
            ApiTokenPermission.token_id == row[0], ApiTokenPermission.codename.in_(required))))
        missing = tuple(p for p in required if p not in have)
    now = utcnow()
    if row[2] is None or (now - row[2]).total_seconds() > 60:  # throttled: reads don't write every call
        s.execute(update(ApiToken).where(ApiToken.id == row[0]).values(last_used_at=now))
    caller = Authenticated(token_id=row[0], user_id=row[1], missing=missing)
    if not missing:
        verified.put(key_hash, required, caller)
    return caller


def active_permissions(s: Session, token_id: int) -> frozenset[str] | None:
    """A token's permissions, or None once it is revoked or its user deactivated (console sessions)."""
    token = s.scalar(select(ApiToken).join(User, User.id == ApiToken.user_id).where(
        ApiToken.id == token_id, ApiToken.revoked_at.is_(None), User.is_active.is_(True)))
    return None if token is None else token.codenames


def has_permission(s: Session, token_id: int, codename: str) -> bool:
    """For what a route does beyond its own permission (raw commands, enrollment secrets)."""
    return s.scalar(select(ApiTokenPermission.codename).where(
        ApiTokenPermission.token_id == token_id, ApiTokenPermission.codename == codename)) is not None


def token_info(s: Session, token_id: int) -> dict:
    """Who a token is and what it may do (clients predict a 403 before trying)."""
    token = s.get(ApiToken, token_id)
    return {"user": token.user.username, "token_prefix": token.prefix, "name": token.name,
            "permissions": sorted(token.codenames), "created_at": token.created_at.isoformat()}


def revoke_token(s: Session, prefix: str) -> ApiToken:
    tokens = s.scalars(select(ApiToken).where(ApiToken.prefix == prefix[:8], ApiToken.revoked_at.is_(None))).all()
    if len(prefix) > 8:
        tokens = [t for t in tokens if t.key_hash == hash_key(prefix)]
    if not tokens:
        raise AuthError(f"no active token starts with {prefix[:8]!r}")
    if len(tokens) > 1:
        raise AuthError(f"several tokens start with {prefix[:8]!r}: pass the whole key")
    tokens[0].revoked_at = utcnow()
    verified.forget(tokens[0].key_hash)
    return tokens[0]


def list_tokens(s: Session) -> list[ApiToken]:
    return list(s.scalars(select(ApiToken).order_by(ApiToken.id)))
