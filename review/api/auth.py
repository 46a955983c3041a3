"""Who is calling: every request but the public feedback channel needs a credential.

``Authorization: Bearer <credential>``: a personal API token (``ert_...``) or, when an
OIDC issuer is configured, a JWT from the organisation's identity provider. The result
is a ``Principal`` (username, scope, how it was proven); a read-scoped token may only
read. Failures are ``NotAuthenticated`` (401) with the reason; a read-only token trying
to write is ``Forbidden`` (403).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import deque
from datetime import datetime

from fastapi import Request

from review.api.oidc import OidcVerifier
from review.errors import Forbidden, InvalidInput, NotAuthenticated
from review.services import tokens
from review.services.tokens import Principal
from review.store.db import Database, utcnow

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class TokenCache:
    """Personal tokens this worker proved in the last ``ttl`` seconds, by the SHA-256 of the whole token.

    A hit skips the database read every request would otherwise make (a quarter of the server's work
    on a decision). Expiry is still checked on every hit; a token revoked through this worker is
    forgotten at once (``clear``), one revoked elsewhere (another worker, the database) stops working
    within ``ttl``. The use cases read the acting user again in their own transaction, so a deactivated
    user can change nothing even inside that window."""

    def __init__(self, ttl: float, *, clock=time.monotonic, size: int = 10_000) -> None:
        self.ttl, self.clock, self.size = ttl, clock, size
        self._hits: dict[str, tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def key(credential: str) -> str:
        return hashlib.sha256(credential.encode()).hexdigest()

    def get(self, credential: str, now: datetime | None = None) -> Principal | None:
        if self.ttl <= 0:
            return None
        hit = self._hits.get(self.key(credential))
        if hit is None or self.clock() - hit[0] >= self.ttl:
            return None
        who = hit[1]
        if who.expires_at is not None and who.expires_at <= (now or utcnow()):
            return None  # expired since: the full check says so, with its reason
        return who

    def put(self, credential: str, who: Principal) -> None:
        if self.ttl <= 0:
            return
        with self._lock:
            if len(self._hits) >= self.size:
                self._hits.clear()
            self._hits[self.key(credential)] = (self.clock(), who)

    def clear(self) -> None:
        with self._lock:
            self._hits.clear()


class Authenticator:
    def __init__(self, db: Database, oidc: OidcVerifier | None, *, token_cache_seconds: float = 0.0) -> None:
        self.db, self.oidc = db, oidc
        self.tokens = TokenCache(token_cache_seconds)

    def credential(self, request: Request) -> str:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if not header:
            raise NotAuthenticated("no credential: send `Authorization: Bearer TOKEN` (an admin creates tokens with "
                                   "`ethics-review token create USER`)")
        if scheme.lower() != "bearer" or not value.strip():
            raise NotAuthenticated("unsupported Authorization header: use `Authorization: Bearer TOKEN`")
        return value.strip()

    def cached(self, request: Request) -> Principal | None:
        """The principal from the token cache (no I/O: safe on the event loop), or None: call ``principal``."""
        credential = self.credential(request)
        who = self.tokens.get(credential) if tokens.looks_like_token(credential) else None
        return None if who is None else self._may(request, who)

    def principal(self, request: Request) -> Principal:
        credential = self.credential(request)
        if tokens.looks_like_token(credential):
            who = tokens.authenticate(self.db, credential)
            self.tokens.put(credential, who)
        elif self.oidc is not None:
            who = tokens.principal_for_user(self.db, self.oidc.username(credential), via="oidc")
        else:
            raise NotAuthenticated("unknown credential: this server accepts personal API tokens (ert_...) only; "
                                   "no OIDC issuer is configured")
        return self._may(request, who)

    @staticmethod
    def _may(request: Request, who: Principal) -> Principal:
        if request.method not in SAFE_METHODS and not who.can_write:
            raise Forbidden(f"{who.username}'s token is read-only (scope read); use a write token for {request.method} {request.url.path}")
        return who


class RateLimiter:
    """At most ``per_minute`` events per key in any sliding 60-second window (thread-safe)."""

    def __init__(self, per_minute: int, *, clock=time.monotonic) -> None:
        self.per_minute, self.clock = per_minute, clock
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> None:
        now = self.clock()
        with self._lock:
            q = self._events.setdefault(key, deque())
            while q and now - q[0] >= 60:
                q.popleft()
            if len(q) >= self.per_minute:
                wait = int(60 - (now - q[0])) + 1
                raise TooManyRequests(f"too many feedback submissions from this address; try again in {wait} s", wait)
            q.append(now)
            if len(self._events) > 100_000:  # forget idle addresses
                for k in [k for k, v in self._events.items() if not v or now - v[-1] >= 60]:
                    del self._events[k]


class TooManyRequests(InvalidInput):
    """HTTP 429: a rate limit; ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
