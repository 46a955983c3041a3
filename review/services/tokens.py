"""Personal API tokens: create (admin; shown once), list, revoke, and authenticate a request.

A token is ``ert_<id>_<secret>`` with 32 random bytes of secret. Only the SHA-256 of the
whole token is stored (a token is random, so a slow password hash adds nothing); the id
finds the row in one indexed read and ``hmac.compare_digest`` compares the hashes.
``authenticate`` refuses unknown, forged, expired and revoked tokens and inactive users
with ``NotAuthenticated`` and one reason, never saying which part of a forged token was wrong.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select

from review.domain.duties import Duty, Role, require
from review.errors import Conflict, Forbidden, InvalidInput, NotAuthenticated, NotFound
from review.services import audit
from review.services.common import load_actor, locked, parse_id
from review.store.db import Database, utcnow
from review.store.models import ApiToken, User

PREFIX = "ert_"
SCOPES = ("read", "write")
DEFAULT_LIFETIME = timedelta(days=90)
MAX_LIFETIME = timedelta(days=366)
_TOKEN = re.compile(r"^ert_(\d{1,12})_([A-Za-z0-9_-]{40,64})$")
_DURATION = re.compile(r"^(\d{1,4})\s*([hdw])$")


@dataclass(frozen=True)
class Principal:
    """Who a request acts as, and how that was proven."""

    username: str
    scope: str  # read | write
    via: str  # token | oidc | direct
    token_id: int | None = None
    expires_at: datetime | None = None  # when the credential stops proving it (a token's expiry)

    @property
    def can_write(self) -> bool:
        return self.scope == "write"


@dataclass(frozen=True)
class TokenInfo:
    """A token as listed (never the secret)."""

    id: int
    username: str
    name: str
    scope: str
    created_by: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None

    @property
    def state(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.expires_at <= utcnow() else "active"


@dataclass(frozen=True)
class NewToken:
    """A created token: ``token`` is the secret, shown once and stored nowhere."""

    info: TokenInfo
    token: str


def parse_lifetime(text: str | None) -> timedelta:
    """``90d``, ``12h``, ``2w`` -> a timedelta (at most a year; a token always expires)."""
    if text is None or not str(text).strip():
        return DEFAULT_LIFETIME
    m = _DURATION.match(str(text).strip().lower())
    if not m:
        raise InvalidInput(f"--expires {text!r}: give a lifetime like 90d, 12h or 2w (at most {MAX_LIFETIME.days}d)")
    n, unit = int(m.group(1)), m.group(2)
    span = {"h": timedelta(hours=n), "d": timedelta(days=n), "w": timedelta(weeks=n)}[unit]
    if span <= timedelta(0) or span > MAX_LIFETIME:
        raise InvalidInput(f"--expires {text!r}: a token lives between 1h and {MAX_LIFETIME.days}d; create a new one when it expires")
    return span


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _info(t: ApiToken) -> TokenInfo:
    assert t.id is not None  # a stored token (flushed)
    return TokenInfo(t.id, t.username, t.name, t.scope, t.created_by, t.created_at, t.expires_at, t.revoked_at, t.last_used_at)


def create_token(db: Database, username: str, *, actor: str, scope: str = "write", expires: str | timedelta | None = None,
                 name: str = "", now: datetime | None = None) -> NewToken:
    """Create a token for ``username`` (admin only). The secret is returned once."""
    scope = (scope or "").strip().lower()
    if scope not in SCOPES:
        raise InvalidInput(f"--scope {scope!r} is not one of: {', '.join(SCOPES)}")
    lifetime = expires if isinstance(expires, timedelta) else parse_lifetime(expires)
    if len(name or "") > 120:
        raise InvalidInput("--name: at most 120 characters")
    now = now or utcnow()
    with db.transaction() as s:
        require(load_actor(s, actor), Duty.MANAGE_USERS)
        owner = s.exec(select(User).where(User.username == username)).first()
        if owner is None or not owner.active:
            raise NotFound(f"unknown user {username!r}; add them first: ethics-review user add {username} --team TEAM --role ROLE")
        row = ApiToken(username=owner.username, name=(name or "").strip(), scope=scope, token_hash="pending-" + secrets.token_hex(28),
                       created_by=actor, created_at=now, expires_at=now + lifetime)
        s.add(row)
        s.flush()
        token = f"{PREFIX}{row.id}_{secrets.token_urlsafe(32)}"
        row.token_hash = _hash(token)
        s.add(row)
        s.flush()
        audit.record(s, actor=actor, action="token-create", entity="user", entity_id=owner.username, before=None,
                     after={"token": row.id, "scope": scope, "expires_at": row.expires_at.isoformat(), "name": row.name})
        return NewToken(_info(row), token)


def list_tokens(db: Database, *, actor: str, username: str | None = None) -> list[TokenInfo]:
    """Tokens, newest first: an admin sees everyone's (or ``username``'s), others their own."""
    with db.reading() as s:
        who = load_actor(s, actor)
        q = select(ApiToken).order_by(col(ApiToken.id).desc())
        if not who.has(Role.ADMIN):
            if username and username != who.username:
                raise Forbidden(f"{who.username} may list their own tokens only (an admin lists everyone's)")
            q = q.where(ApiToken.username == who.username)
        elif username:
            q = q.where(ApiToken.username == username)
        return [_info(t) for t in s.exec(q).all()]


def revoke_token(db: Database, token_id: Any, *, actor: str, now: datetime | None = None) -> TokenInfo:
    """Revoke a token by id: its owner or an admin. Revoking twice is refused (it is already dead)."""
    tid = parse_id(token_id, "token id")
    with db.transaction() as s:
        who = load_actor(s, actor)
        row = locked(s, ApiToken, tid)
        if row is None or (row.username != who.username and not who.has(Role.ADMIN)):
            raise NotFound(f"token {tid} does not exist; `ethics-review token list` shows yours")
        if row.revoked_at is not None:
            raise Conflict(f"token {tid} was already revoked by {row.revoked_by} on {row.revoked_at:%Y-%m-%d %H:%M}")
        row.revoked_at, row.revoked_by = now or utcnow(), who.username
        s.add(row)
        s.flush()
        audit.record(s, actor=who.username, action="token-revoke", entity="user", entity_id=row.username, before={"token": row.id},
                     after={"token": row.id, "revoked_at": row.revoked_at.isoformat()})
        return _info(row)


def looks_like_token(credential: str) -> bool:
    return credential.startswith(PREFIX)


# One indexed read (token joined to its user), no ORM session, built once: this runs on every request.
_BY_ID = (sa.select(col(ApiToken.id), col(ApiToken.token_hash), col(ApiToken.scope), col(ApiToken.expires_at), col(ApiToken.revoked_at),
                    col(ApiToken.username), col(User.active))
          .outerjoin(User, col(User.username) == col(ApiToken.username)).where(col(ApiToken.id) == sa.bindparam("token_id")))


def authenticate(db: Database, credential: str, *, now: datetime | None = None) -> Principal:
    """The principal a personal token proves, or ``NotAuthenticated``."""
    m = _TOKEN.match(credential or "")
    if not m:
        raise NotAuthenticated("malformed API token; create one with `ethics-review token create USER`")
    now = now or utcnow()
    with db.autocommit() as conn:
        row = conn.execute(_BY_ID, {"token_id": int(m.group(1))}).first()
    if row is None or not hmac.compare_digest(row.token_hash, _hash(credential)):
        raise NotAuthenticated("unknown API token")
    if row.revoked_at is not None:
        raise NotAuthenticated(f"API token {row.id} was revoked on {row.revoked_at:%Y-%m-%d}; ask an admin for a new one")
    if row.expires_at <= now:
        raise NotAuthenticated(f"API token {row.id} expired on {row.expires_at:%Y-%m-%d}; ask an admin for a new one")
    if not row.active:
        raise NotAuthenticated(f"API token {row.id} belongs to {row.username}, who is no longer an active user")
    return Principal(row.username, row.scope, "token", row.id, row.expires_at)


def principal_for_user(db: Database, username: str, *, via: str) -> Principal:
    """A principal for a user proven some other way (OIDC): they must be an active user here."""
    with db.reading() as s:
        user = s.exec(select(User).where(User.username == username)).first()
    if user is None or not user.active:
        raise NotAuthenticated(f"{username!r} is not an active user of this review server; an admin adds people with "
                               f"`ethics-review user add {username} --team TEAM --role ROLE`")
    return Principal(user.username, "write", via)
