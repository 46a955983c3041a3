"""The server's short token cache: a hit skips the database, but expiry, scope and revocation still hold.

A token revoked through the API stops working at once in that worker; one revoked behind the
server's back (another worker, the database) stops within ``token_cache_seconds``; 0 turns the cache off.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from review.api.app import create_app
from review.api.auth import TokenCache
from review.services import tokens
from review.services.tokens import Principal
from review.store.db import utcnow
from tests.api.conftest import settings_for


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_cache_forgets_after_ttl_and_rechecks_expiry_on_every_hit() -> None:
    clock = Clock()
    cache = TokenCache(2.0, clock=clock)
    now = utcnow()
    who = Principal("priya.nair", "write", "token", 7, now + timedelta(minutes=5))
    cache.put("ert_7_secret", who)
    assert cache.get("ert_7_secret", now) == who
    assert cache.get("ert_7_other", now) is None
    assert cache.get("ert_7_secret", now + timedelta(minutes=5)) is None  # expired while cached
    clock.t += 2.0
    assert cache.get("ert_7_secret", now) is None  # older than the ttl
    cache.put("ert_7_secret", who)
    cache.clear()
    assert cache.get("ert_7_secret", now) is None
    off = TokenCache(0.0, clock=clock)
    off.put("ert_7_secret", who)
    assert off.get("ert_7_secret", now) is None


def test_cache_is_bounded() -> None:
    cache = TokenCache(60.0, size=3)
    who = Principal("priya.nair", "write", "token", 1, None)
    for i in range(10):
        cache.put(f"ert_{i}_x", who)
    assert len(cache._hits) <= 3


def test_revoked_behind_the_servers_back_stops_within_the_ttl(world) -> None:
    secret = tokens.create_token(world.db, "priya.nair", actor="admin").token
    with TestClient(create_app(world.db, settings_for(world.db, token_cache_seconds=2.0))) as api:
        clock = Clock()
        api.app.state.er.auth.tokens.clock = clock
        assert api.get("/api/v1/me", headers=_bearer(secret)).status_code == 200
        tokens.revoke_token(world.db, secret.split("_")[1], actor="admin")  # straight to the database
        assert api.get("/api/v1/me", headers=_bearer(secret)).status_code == 200  # the documented lag
        clock.t += 2.0
        r = api.get("/api/v1/me", headers=_bearer(secret))
        assert r.status_code == 401 and "revoked" in r.json()["detail"]


def test_no_cache_means_revocation_is_immediate(world) -> None:
    secret = tokens.create_token(world.db, "priya.nair", actor="admin").token
    with TestClient(create_app(world.db, settings_for(world.db, token_cache_seconds=0))) as api:
        assert api.get("/api/v1/me", headers=_bearer(secret)).status_code == 200
        tokens.revoke_token(world.db, secret.split("_")[1], actor="admin")
        assert api.get("/api/v1/me", headers=_bearer(secret)).status_code == 401


def test_revoked_through_the_api_stops_at_once_and_a_cached_read_token_still_cannot_write(world) -> None:
    read = tokens.create_token(world.db, "priya.nair", actor="admin", scope="read")
    with TestClient(create_app(world.db, settings_for(world.db, token_cache_seconds=60.0))) as api:
        for _ in range(2):  # the second is a cache hit
            assert api.get("/api/v1/me", headers=_bearer(read.token)).status_code == 200
        r = api.post("/api/v1/feedback/1/triage", headers=_bearer(read.token), json={"verdict": "credible"})
        assert r.status_code == 403 and "read-only" in r.json()["detail"]
        assert api.post(f"/api/v1/tokens/{read.info.id}/revoke", headers=world.auth("admin")).status_code == 200
        assert api.get("/api/v1/me", headers=_bearer(read.token)).status_code == 401
