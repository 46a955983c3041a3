"""Role x endpoint: every endpoint refuses a missing, revoked, expired or forged credential (401),
and each role is allowed or refused (403) exactly as the rules say.

Each case builds the state its endpoint needs (a submitted review, one in review, a control
with evidence, ...) with the services, then calls the endpoint as each role. A refused role
must get 403 and change nothing; an allowed role gets 2xx (on its own fresh copy of the
state, so one role's write cannot make the next role's call illegal).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable

import pytest
from fastapi.testclient import TestClient

from review.api.app import create_app
from review.services import feedback, reviews, tokens
from review.store.db import Database, utcnow
from tests.api.conftest import World, make_world, settings_for
from tests.integration.followup_helpers import approve, evidence, released, submit

ROLES = {"admin": "admin", "chair": "wei.chen", "reviewer": "priya.nair", "own team": "geo.lead", "other team": "dev.lead"}
ALL = frozenset(ROLES)
GEO = "Remote-sensing platform"  # geo-insight's product, graded LOW: one control (HCT-01, verified at DEVELOPMENT)
Request = tuple[str, str, dict[str, Any]]


# ---- states ------------------------------------------------------------------------------------
def s_submitted(w: World, tmp: Path) -> int:
    return submit(w.db, GEO)


def s_in_review(w: World, tmp: Path) -> int:
    rid = submit(w.db, GEO)
    reviews.assign(w.db, rid, "amara.okafor", actor="wei.chen")
    return rid


def s_approved(w: World, tmp: Path) -> int:
    rid = submit(w.db, GEO)
    approve(w.db, rid, "amara.okafor")
    return rid


def s_evidenced(w: World, tmp: Path) -> int:
    rid = s_approved(w, tmp)
    reviews.advance(w.db, rid, actor="geo.lead")
    evidence(w.db, rid, GEO, tmp, ("DEVELOPMENT",))
    return rid


def s_development(w: World, tmp: Path) -> int:
    rid = s_approved(w, tmp)
    reviews.advance(w.db, rid, actor="geo.lead")
    return rid


def s_feedback(w: World, tmp: Path) -> int:
    released(w.db, GEO, tmp)
    return feedback.submit_feedback(w.db, GEO, "The model labelled a protected forest as farmland twice this week.").id


@dataclass(frozen=True)
class Case:
    name: str
    allowed: frozenset[str]
    build: Callable[[World, Path], Request]


def case(name: str, allowed: frozenset[str] | set[str]) -> Callable[[Callable[[World, Path], Request]], Case]:
    return lambda build: Case(name, frozenset(allowed), build)


def _product_doc() -> dict[str, Any]:
    import copy

    from review.demo.catalog import PRODUCTS, submission

    return submission(copy.deepcopy(next(p for p in PRODUCTS if p["product"]["name"] == GEO)))


CASES = [
    case("GET /me", ALL)(lambda w, t: ("GET", "/api/v1/me", {})),
    case("GET /users", ALL)(lambda w, t: ("GET", "/api/v1/users", {})),
    case("POST /users", {"admin"})(lambda w, t: ("POST", "/api/v1/users", {"json": {"username": "new.person", "team": "t", "roles": "reviewer"}})),
    case("GET /tokens", ALL)(lambda w, t: ("GET", "/api/v1/tokens", {})),
    case("POST /tokens", {"admin"})(lambda w, t: ("POST", "/api/v1/tokens", {"json": {"username": "priya.nair", "expires": "1d"}})),
    case("POST /reviews", {"admin", "own team"})(lambda w, t: ("POST", "/api/v1/reviews", {"json": _product_doc()})),
    case("GET /reviews", ALL)(lambda w, t: (s_submitted(w, t), ("GET", "/api/v1/reviews", {}))[1]),
    case("GET /reviews/R", ALL)(lambda w, t: ("GET", f"/api/v1/reviews/{s_submitted(w, t)}", {})),
    case("GET /reviews/R/permissions", ALL)(lambda w, t: ("GET", f"/api/v1/reviews/{s_submitted(w, t)}/permissions", {})),
    case("GET /reviews/R/assignees", ALL)(lambda w, t: ("GET", f"/api/v1/reviews/{s_submitted(w, t)}/assignees", {})),
    case("POST /reviews/R/assign (to priya)", {"admin", "chair", "reviewer"})(
        lambda w, t: ("POST", f"/api/v1/reviews/{s_submitted(w, t)}/assign", {"json": {"assignee": "priya.nair"}})),
    case("POST /reviews/R/decisions", {"chair", "reviewer"})(
        lambda w, t: ("POST", f"/api/v1/reviews/{s_in_review(w, t)}/decisions", {"json": {"decision": "approve", "rationale": "no personal data"}})),
    case("POST /reviews/R/advance", {"admin", "chair", "own team"})(lambda w, t: ("POST", f"/api/v1/reviews/{s_approved(w, t)}/advance", {})),
    case("POST evidence", {"admin", "own team"})(
        lambda w, t: ("POST", f"/api/v1/reviews/{s_development(w, t)}/controls/HCT-01/evidence",
                      {"params": {"filename": "raci.md"}, "content": b"owner: Jane Doe"})),
    case("GET /reviews/R/evidence", ALL)(lambda w, t: ("GET", f"/api/v1/reviews/{s_evidenced(w, t)}/evidence", {})),
    case("GET /reviews/R/evidence/E", ALL)(lambda w, t: ("GET", f"/api/v1/reviews/{s_evidenced(w, t)}/evidence/1", {})),
    case("POST verify", {"chair", "reviewer"})(
        lambda w, t: ("POST", f"/api/v1/reviews/{s_evidenced(w, t)}/controls/HCT-01/verify", {"json": {"verdict": "pass"}})),
    case("POST waive", {"chair"})(
        lambda w, t: ("POST", f"/api/v1/reviews/{s_development(w, t)}/controls/HCT-01/waive",
                      {"json": {"rationale": "Replaced by the platform-wide RACI, reviewed in March."}})),
    case("POST submit gate", {"admin", "own team"})(lambda w, t: ("POST", f"/api/v1/reviews/{_verified_dev(w, t)}/submit", {})),
    case("POST standing suspend", {"admin", "chair"})(
        lambda w, t: ("POST", f"/api/v1/reviews/{s_development(w, t)}/standing", {"json": {"action": "suspend", "rationale": "incident"}})),
    case("POST grade-override", {"chair"})(
        lambda w, t: ("POST", f"/api/v1/reviews/{s_submitted(w, t)}/grade-override", {"json": {"grade": "MEDIUM", "rationale": "customer data"}})),
    case("GET residual", ALL)(lambda w, t: ("GET", f"/api/v1/reviews/{s_submitted(w, t)}/residual", {})),
    case("GET replay", ALL)(lambda w, t: ("GET", f"/api/v1/reviews/{s_submitted(w, t)}/replay", {})),
    case("GET review notifications", ALL)(lambda w, t: ("GET", f"/api/v1/reviews/{s_submitted(w, t)}/notifications", {})),
    case("POST /conflicts", {"chair", "reviewer"})(
        lambda w, t: (s_submitted(w, t), ("POST", "/api/v1/conflicts", {"json": {"product": GEO, "reason": "my spouse leads geo-insight"}}))[1]),
    case("GET labels", ALL)(lambda w, t: ("GET", "/api/v1/policies/default/labels", {})),
    case("GET preview", ALL)(lambda w, t: (s_submitted(w, t), ("GET", "/api/v1/policies/default/preview", {}))[1]),
    case("GET dashboard", ALL)(lambda w, t: ("GET", "/api/v1/dashboard/overdue", {})),
    case("GET dashboard levels", ALL)(lambda w, t: ("GET", "/api/v1/dashboard/levels", {})),
    case("GET audit-log", ALL)(lambda w, t: ("GET", "/api/v1/audit-log", {})),
    case("GET audit-log/verify", ALL)(lambda w, t: ("GET", "/api/v1/audit-log/verify", {})),
    case("GET /followups", ALL)(lambda w, t: ("GET", "/api/v1/followups", {})),
    case("POST /followups/scan", ALL)(lambda w, t: ("POST", "/api/v1/followups/scan", {"json": {}})),
    case("GET /feedback", ALL)(lambda w, t: ("GET", "/api/v1/feedback", {})),
    case("POST triage", {"chair", "reviewer"})(
        lambda w, t: ("POST", f"/api/v1/feedback/{s_feedback(w, t)}/triage", {"json": {"verdict": "not-credible", "rationale": "a known label issue"}})),
    case("GET /notifications", ALL)(lambda w, t: ("GET", "/api/v1/notifications", {})),
    case("GET /audits", ALL)(lambda w, t: ("GET", "/api/v1/audits", {})),
    case("GET /reaudits", ALL)(lambda w, t: ("GET", "/api/v1/reaudits", {})),
]


def _verified_dev(w: World, tmp: Path) -> int:
    from review.services import controls

    rid = s_evidenced(w, tmp)
    controls.verify(w.db, rid, "HCT-01", "pass", actor="priya.nair")
    return rid


# ---- a fresh world per call, from one template per test session ----------------------------------
@pytest.fixture(scope="session")
def _world_template(_sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    d = tmp_path_factory.mktemp("api-world")
    path = d / "world.db"
    shutil.copyfile(_sqlite_template, path)
    db = Database(f"sqlite:///{path}", data_dir=d)
    w = make_world(db)
    db.dispose()
    return path, w.token


@pytest.fixture
def fresh(_world_template: tuple[Path, dict[str, str]], tmp_path: Path) -> Callable[[], tuple[World, TestClient, Path]]:
    made: list[Any] = []

    def new() -> tuple[World, TestClient, Path]:
        d = tmp_path / f"w{len(made)}"
        d.mkdir()
        shutil.copyfile(_world_template[0], d / "world.db")
        db = Database(f"sqlite:///{d / 'world.db'}", data_dir=d)
        w = World(db, dict(_world_template[1]))
        client = TestClient(create_app(db, settings_for(db)))
        made.append((db, client))
        return w, client, d

    yield new
    for db, client in made:
        client.close()
        db.dispose()


def _call(client: TestClient, req: Request, headers: dict[str, str]) -> Any:
    method, path, kw = req
    return client.request(method, path, headers=headers, **kw)


@pytest.mark.parametrize("c", CASES, ids=lambda c: c.name)
def test_roles(c: Case, fresh) -> None:
    w, client, tmp = fresh()
    req = c.build(w, tmp)
    for role, user in ROLES.items():
        if role in c.allowed:
            continue
        r = _call(client, req, w.auth(user))
        assert r.status_code == 403, (role, r.status_code, r.text)
        assert r.headers["content-type"].startswith("application/problem+json") and r.json()["exit_code"] == 4
    for role in sorted(c.allowed):
        w, client, tmp = fresh()
        r = _call(client, c.build(w, tmp), w.auth(ROLES[role]))
        assert 200 <= r.status_code < 300, (role, r.status_code, r.text)


@pytest.mark.parametrize("c", CASES, ids=lambda c: c.name)
def test_bad_credentials(c: Case, fresh) -> None:
    """No credential, a malformed one, a forged secret, a revoked and an expired token: 401 on every endpoint."""
    w, client, tmp = fresh()
    req = c.build(w, tmp)
    user = ROLES["chair"] if "chair" in c.allowed else ROLES[sorted(c.allowed)[0]]
    good = w.token[user]
    tid = int(good.split("_")[1])
    forged = good[:-4] + ("aaaa" if not good.endswith("aaaa") else "bbbb")
    revoked = tokens.create_token(w.db, user, actor="admin").token
    tokens.revoke_token(w.db, revoked.split("_")[1], actor="admin")
    expired = tokens.create_token(w.db, user, actor="admin", expires="1h", now=utcnow() - timedelta(hours=2)).token
    for headers in ({}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer "}, {"Authorization": f"Bearer {forged}"},
                    {"Authorization": f"Bearer ert_{tid + 999}_{'x' * 43}"}, {"Authorization": f"Bearer {revoked}"},
                    {"Authorization": f"Bearer {expired}"}, {"Authorization": "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."}):
        r = _call(client, req, headers)
        assert r.status_code == 401, (headers, r.status_code, r.text)
        assert r.json()["exit_code"] == 10 and r.headers.get("www-authenticate", "").startswith("Bearer")


def test_read_scope_reads_but_never_writes(fresh) -> None:
    w, client, tmp = fresh()
    read = tokens.create_token(w.db, "priya.nair", actor="admin", scope="read").token
    rid = s_in_review(w, tmp)
    h = {"Authorization": f"Bearer {read}"}
    assert client.get(f"/api/v1/reviews/{rid}", headers=h).status_code == 200
    r = client.post(f"/api/v1/reviews/{rid}/decisions", headers=h, json={"decision": "approve", "rationale": "no personal data"})
    assert r.status_code == 403 and "read-only" in r.json()["detail"]
    assert client.get(f"/api/v1/reviews/{rid}", headers=h).json()["review"]["status"] == "IN_REVIEW"
