"""Who is calling: every request but the public feedback channel needs a credential.

``Authorization: Bearer <credential>``: a personal API token (``ert_...``) or, when an
OIDC issuer is configured, a JWT from the organisation's identity provider. The result
is a ``Principal`` (username, scope, how it was proven); a read-scoped token may only
read. Failures are ``NotAuthenticated`` (401) with the reason; a read-only token trying
to write is ``Forbidden`` (403).
"""

from __future__ import annotations

import threading
import time
from collections import deque

from fastapi import Request

from review.api.oidc import OidcVerifier
from review.errors import Forbidden, InvalidInput, NotAuthenticated
from review.services import tokens
from review.services.tokens import Principal
from review.store.db import Database

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Authenticator:
    def __init__(self, db: Database, oidc: OidcVerifier | None) -> None:
        self.db, self.oidc = db, oidc

    def credential(self, request: Request) -> str:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if not header:
            raise NotAuthenticated("no credential: send `Authorization: Bearer TOKEN` (an admin creates tokens with "
                                   "`ethics-review token create USER`)")
        if scheme.lower() != "bearer" or not value.strip():
            raise NotAuthenticated("unsupported Authorization header: use `Authorization: Bearer TOKEN`")
        return value.strip()

    def principal(self, request: Request) -> Principal:
        credential = self.credential(request)
        if tokens.looks_like_token(credential):
            who = tokens.authenticate(self.db, credential)
        elif self.oidc is not None:
            who = tokens.principal_for_user(self.db, self.oidc.username(credential), via="oidc")
        else:
            raise NotAuthenticated("unknown credential: this server accepts personal API tokens (ert_...) only; "
                                   "no OIDC issuer is configured")
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
