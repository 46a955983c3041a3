"""Sixteen processes on one object, for every use case that checks a state and then writes:
exactly one applies, the rest get the clean conflict error (exit 6), nothing is doubled.
On PostgreSQL the checked row is locked (``SELECT ... FOR UPDATE``); on SQLite a writer holds
the database from ``BEGIN IMMEDIATE``; either way the second writer sees the first one's work.
"""

from __future__ import annotations

import multiprocessing
import time
from typing import Any, Callable, Iterator

import pytest
import sqlalchemy as sa

from review.demo.seed import seed_people
from review.services import controls, feedback, followups, reviews, tokens, users
from review.store.db import Database
from tests.integration.followup_helpers import approve, evidence, released, submit

N = 16
GEO = "Remote-sensing platform"


# ---- in the worker processes ---------------------------------------------------------------------
_DBS: dict[str, Database] = {}


def _worker(args: tuple[str, str, float, str, dict[str, Any], int]) -> str:
    url, data_dir, start_at, case, params, k = args
    from pathlib import Path

    from review.errors import Conflict, ReviewError

    db = _DBS.get(url + data_dir)
    if db is None:
        for old in _DBS.values():  # one database per worker at a time: connections are finite
            old.dispose()
        _DBS.clear()
        db = _DBS[url + data_dir] = Database(url, data_dir=Path(data_dir))
        with db.reading() as s:  # connect before the start line
            s.execute(sa.text("SELECT 1"))
    while time.time() < start_at:
        time.sleep(0.0005)
    try:
        CALLS[case](db, params, k)
        return "ok"
    except Conflict:
        return "conflict"
    except ReviewError as exc:
        return f"refused {type(exc).__name__}: {exc.message}"
    except Exception as exc:  # an unclean error fails the test
        return f"error {type(exc).__name__}: {exc}"


CALLS: dict[str, Callable[[Database, dict[str, Any], int], Any]] = {
    "decide": lambda db, p, k: reviews.decide(db, p["rid"], "approve", actor=p["who"], rationale=f"race {k}", expected_version=p["v"]),
    "verify": lambda db, p, k: controls.verify(db, p["rid"], "HCT-01", "pass" if k % 2 else "fail", actor=p["who"], rationale=f"race {k}"),
    "waive": lambda db, p, k: controls.waive(db, p["rid"], "HCT-01", actor="wei.chen", rationale=f"race {k}: replaced by the platform RACI"),
    "advance": lambda db, p, k: reviews.advance(db, p["rid"], actor="geo.lead", expected_version=p["v"]),
    "suspend": lambda db, p, k: reviews.change_standing(db, p["rid"], "suspend", actor="wei.chen", rationale=f"race {k}", expected_version=p["v"]),
    "assign": lambda db, p, k: reviews.assign(db, p["rid"], ("amara.okafor", "lucas.martin", "priya.nair")[k % 3], actor="wei.chen",
                                               expected_version=p["v"]),
    "override": lambda db, p, k: reviews.override_grade(db, p["rid"], ("MEDIUM", "HIGH")[k % 2], actor="wei.chen", rationale=f"race {k}",
                                                         expected_version=p["v"]),
    "submit-gate": lambda db, p, k: reviews.submit_gate(db, p["rid"], actor="geo.lead", expected_version=p["v"]),
    "triage": lambda db, p, k: feedback.triage(db, p["fid"], "credible" if k % 2 else "not-credible", actor="priya.nair", rationale=f"race {k}"),
    "visit": lambda db, p, k: followups.record_visit(db, p["check"], p["customer"], {"answers": {"q1": "no", "q2": "no", "q3": "yes"},
                                                                                  "finding": "none", "notes": f"race {k}"}, actor="priya.nair"),
    "revoke": lambda db, p, k: tokens.revoke_token(db, p["tid"], actor="admin"),
    "label": lambda db, p, k: __import__("review.services.content_labels", fromlist=["x"]).label_item(
        db, p["run"], 1, f"racer{k:02d}", "pass" if k % 2 else "violation", category=None if k % 2 else "weapons"),
}


# ---- the states (built in the test process) ------------------------------------------------------
def _version(db: Database, rid: int) -> int:
    with db.reading() as s:
        return s.execute(sa.text("SELECT version FROM review WHERE id = :i"), {"i": rid}).scalar_one()


def st_in_review(db, tmp):
    rid = submit(db, GEO)
    reviews.assign(db, rid, "amara.okafor", actor="wei.chen")
    return {"rid": rid, "who": "amara.okafor", "v": _version(db, rid)}


def st_evidenced(db, tmp):
    rid = submit(db, GEO)
    approve(db, rid, "amara.okafor")
    reviews.advance(db, rid, actor="geo.lead")
    evidence(db, rid, GEO, tmp, ("DEVELOPMENT",))
    return {"rid": rid, "who": "priya.nair", "v": _version(db, rid)}


def st_approved(db, tmp):
    rid = submit(db, GEO)
    approve(db, rid, "amara.okafor")
    return {"rid": rid, "v": _version(db, rid)}


def st_development(db, tmp):
    p = st_approved(db, tmp)
    reviews.advance(db, p["rid"], actor="geo.lead")
    return {"rid": p["rid"], "v": _version(db, p["rid"])}


def st_submitted(db, tmp):
    rid = submit(db, GEO)
    return {"rid": rid, "v": _version(db, rid)}


def st_dev_verified(db, tmp):
    p = st_evidenced(db, tmp)
    controls.verify(db, p["rid"], "HCT-01", "pass", actor="priya.nair")
    return {"rid": p["rid"], "v": _version(db, p["rid"])}


def st_feedback(db, tmp):
    released(db, GEO, tmp)
    return {"fid": feedback.submit_feedback(db, GEO, "It mislabelled a protected forest as farmland twice.").id}


def st_visit(db, tmp):
    p = st_feedback(db, tmp)
    feedback.triage(db, p["fid"], "credible", actor="amara.okafor", rationale="reproduced")
    check = next(c for c in followups.list_checks(db, which="due") if c["kind"] == "adhoc")
    visits = followups.show_check(db, check["id"])["visits"]
    for v in visits[1:]:  # every visit but one: the race is on the last one, which completes the check
        followups.record_visit(db, check["id"], v["customer"], {"answers": {"q1": "no", "q2": "no", "q3": "yes"}, "finding": "none"},
                               actor="amara.okafor")
    return {"check": check["id"], "customer": visits[0]["customer"]}


def st_token(db, tmp):
    return {"tid": tokens.create_token(db, "priya.nair", actor="admin").info.id}


def st_label(db, tmp):
    from tests.tui.conftest import make_audit_run

    for k in range(N):
        users.add_user(db, f"racer{k:02d}", team="ethics-committee", roles="reviewer", actor="admin")
    submit(db, "Customer-service copilot")
    return {"run": make_audit_run(db, tmp / "chat.jsonl")}


CASES = {
    "decide": st_in_review, "verify": st_evidenced, "waive": st_evidenced, "advance": st_approved, "suspend": st_development,
    "assign": st_submitted, "override": st_submitted, "submit-gate": st_dev_verified, "triage": st_feedback, "visit": st_visit,
    "revoke": st_token, "label": st_label,
}


def _count(db: Database, sql: str, **params: Any) -> int:
    with db.reading() as s:
        return int(s.execute(sa.text(sql), params).scalar_one())


CHECKS: dict[str, Callable[[Database, dict[str, Any]], None]] = {
    "decide": lambda db, p: _eq(_count(db, "SELECT count(*) FROM decision WHERE review_id = :r", r=p["rid"]), 1),
    "verify": lambda db, p: _eq(_count(db, "SELECT count(*) FROM audit_log WHERE action LIKE 'verify:%' AND entity_id = :r", r=str(p["rid"])), 1),
    "waive": lambda db, p: _eq(_count(db, "SELECT count(*) FROM audit_log WHERE action = 'waive' AND entity_id = :r", r=str(p["rid"])), 1),
    "advance": lambda db, p: _eq(_count(db, "SELECT count(*) FROM audit_log WHERE action = 'advance' AND entity_id = :r", r=str(p["rid"])), 1),
    "suspend": lambda db, p: _eq(_count(db, "SELECT count(*) FROM audit_log WHERE action = 'suspend' AND entity_id = :r", r=str(p["rid"])), 1),
    "assign": lambda db, p: _eq(_count(db, "SELECT count(*) FROM audit_log WHERE action = 'assign' AND entity_id = :r", r=str(p["rid"])), 1),
    "override": lambda db, p: _eq(_count(db, "SELECT count(*) FROM assessment WHERE kind = 'override' AND review_id = :r", r=p["rid"]), 1),
    "submit-gate": lambda db, p: _eq(_count(db, "SELECT count(*) FROM audit_log WHERE action = 'submit-gate' AND entity_id = :r",
                                            r=str(p["rid"])), 1),
    "triage": lambda db, p: _eq(_count(db, "SELECT count(*) FROM followup_check WHERE kind = 'adhoc'"), 1 if _credible(db, p) else 0),
    "visit": lambda db, p: _eq(_count(db, "SELECT count(*) FROM followup_check WHERE status = 'SCHEDULED'"), 1),  # one next check, not 16
    "revoke": lambda db, p: _eq(_count(db, "SELECT count(*) FROM audit_log WHERE action = 'token-revoke'"), 1),
    "label": lambda db, p: _eq(_count(db, "SELECT count(*) FROM spot_check_label WHERE run_id = :r AND seq = 1", r=p["run"]), 1),
}


def _credible(db: Database, p: dict[str, Any]) -> bool:
    with db.reading() as s:
        return s.execute(sa.text("SELECT status FROM feedback WHERE id = :i"), {"i": p["fid"]}).scalar_one() == "CREDIBLE"


def _eq(a: int, b: int) -> None:
    assert a == b, f"{a} rows where {b} was expected: a write was doubled or lost"


@pytest.fixture(scope="module")
def pool() -> Iterator[Any]:
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(N) as p:
        p.map(time.sleep, [0] * N)  # every worker has started (and imported) before the first race
        yield p


@pytest.mark.parametrize("case", list(CASES))
def test_sixteen_writers_one_applies(db: Database, tmp_path, pool, case: str) -> None:
    seed_people(db)
    params = CASES[case](db, tmp_path)
    start = time.time() + 1.0
    results = pool.map(_worker, [(db.url, str(db.data_dir), start, case, params, k) for k in range(N)])
    unclean = [r for r in results if r not in ("ok", "conflict")]
    assert not unclean, unclean
    assert results.count("ok") == 1 and results.count("conflict") == N - 1, results
    CHECKS[case](db, params)
    from review.services.audit import verify_chain

    rep = verify_chain(db)
    assert rep.ok, [p.detail for p in rep.problems]
