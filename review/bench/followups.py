"""``ethics-review bench followups``: the nightly follow-up scan over N released products, about 1/30 due.

Seeds N products with one MONITORING review and one SCHEDULED follow-up check each,
set-based (10,000 rows per INSERT batch). About 1/30 of the checks are due (some past the
escalation delay); the rest fall due over the coming year. Then it times:

* ``followup_scan_s``: the scan as the served deployment runs it: the ``followup-scan``
  flow with the Prefect engine (chunked tasks over id ranges), inside one
  ``prefect_test_harness`` (its start-up is reported apart as ``harness_start_s``);
  with ``--no-prefect`` it is the in-process scan instead;
* ``followup_scan_inprocess_s``: the same scan through ``review.services.followups.scan``
  (what ``ethics-review followup scan`` runs), after the opened checks are reset
  (``followup_scan_inprocess_cpu_s``: the CPU time it took, SQLite included).

Target: ``followup_scan_s`` <= 10 s at N = 100,000. The last line printed is one JSON object.
"""

from __future__ import annotations

import json
import random
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:  # the store loads when a bench runs, not when `bench --help` lists it
    from review.store.db import Database

CUSTOMERS = ["Northwind Retail", "Contoso Health", "Fabrikam Logistics", "City transit authority", "Provincial education bureau",
             "Harbor Bank", "Riverside Clinic"]
GRADES = ["LOW", "MEDIUM", "HIGH"]


def register(bench: Any) -> None:
    """Add ``followups`` to ``ethics-review bench``."""
    p = bench.add_parser("followups", help="nightly follow-up scan over N released products (~1/30 due)")
    p.add_argument("--products", type=int, default=100_000)
    p.add_argument("--chunk", type=int, default=25_000, help="check ids per task")
    p.add_argument("--no-prefect", action="store_true", help="time the in-process scan only (no Prefect test harness)")
    p.add_argument("--database", dest="bench_db", default=None, help="database URL (default: a temporary SQLite file)")
    p.set_defaults(func=cmd_bench_followups)


def seed(db: Database, n: int, *, seed: int = 11, due_every: int = 30) -> int:
    """Insert ``n`` released products (review at MONITORING, one SCHEDULED check each); returns how many are due now."""
    import sqlalchemy as sa

    from review.store.db import utcnow
    from review.store.models import Product, Review
    from review.store.models_followup import FollowupCheck

    rng = random.Random(seed)
    now = utcnow()
    due = 0
    chunk = 10_000
    with db.engine.begin() as conn:
        for base in range(0, n, chunk):
            size = min(chunk, n - base)
            prods = [{"name": f"Released product {i:07d}", "owner_team": f"team-{i % 40}", "business_line": "Bench", "description": "",
                      "profile": {"name": f"Released product {i:07d}", "customers": rng.sample(CUSTOMERS, rng.randint(2, 6)),
                                  "capabilities": ["generative_content"] if i % 5 == 0 else []},
                      "policy_id": "default", "created_by": "bench", "created_at": now} for i in range(base, base + size)]
            conn.execute(sa.insert(Product), prods)
            first = conn.execute(sa.select(sa.func.min(Product.id)).where(Product.name == prods[0]["name"])).scalar_one()
            grades = [rng.choice(GRADES) for _ in range(size)]
            conn.execute(sa.insert(Review), [
                {"product_id": first + j, "gate": "MONITORING", "status": "APPROVED", "grade": g, "assignee": None, "submitted_by": "bench",
                 "policy_id": "default", "policy_version": "1.1.0", "priority": GRADES.index(g), "due_at": None, "round": 3, "version": 9,
                 "created_at": now, "updated_at": now} for j, g in enumerate(grades)])
            rfirst = conn.execute(sa.select(sa.func.min(Review.id)).where(Review.product_id == first)).scalar_one()
            checks = []
            for j, g in enumerate(grades):
                is_due = rng.randrange(due_every) == 0
                due += is_due
                when = now - timedelta(days=rng.randint(0, 20), hours=1) if is_due else now + timedelta(days=rng.randint(1, 365))
                checks.append({"review_id": rfirst + j, "product_id": first + j, "sequence": 1, "kind": "cadence", "grade": g,
                               "status": "SCHEDULED", "due_at": when, "opened_at": None, "closed_at": None, "escalated_at": None,
                               "finding": None, "feedback_id": None, "created_at": now})
            conn.execute(sa.insert(FollowupCheck), checks)
    return due


def reset(db: Database) -> None:
    """Put the checks a scan opened back to SCHEDULED (to time the scan again on the same data)."""
    import sqlalchemy as sa

    from review.store.models_followup import FollowupCheck, FollowupVisit, Notification, ReauditRequest

    with db.engine.begin() as conn:
        for model in (FollowupVisit, ReauditRequest, Notification):
            conn.execute(sa.delete(model))
        conn.execute(sa.update(FollowupCheck).where(FollowupCheck.status.in_(("OPEN", "CANCELLED")))
                     .values(status="SCHEDULED", opened_at=None, escalated_at=None, closed_at=None))


def run(*, products: int, chunk: int = 25_000, prefect: bool = True, url: str | None = None,
        echo: Callable[[str], None] | None = print) -> dict[str, Any]:
    from review.bench.scratch import scratch_dir
    from review.store.db import Database

    with scratch_dir("ethics-review-bench-followups-") as tmp:
        return _run(Database(url or f"sqlite:///{tmp / 'bench.db'}", data_dir=tmp), products, chunk, prefect, echo or (lambda _t: None))


def _run(db: Database, products: int, chunk: int, prefect: bool, say: Callable[[str], None]) -> dict[str, Any]:
    from review.services.followups import scan

    db.upgrade()
    t0 = time.perf_counter()
    due = seed(db, products)
    say(f"seeded {products} released products ({due} due) in {time.perf_counter() - t0:.1f} s")
    result: dict[str, Any] = {"products": products, "due": due, "chunk": chunk, "backend": db.engine.dialect.name}
    if prefect:
        result.update(_flow_scan(db, chunk, say))
        reset(db)
    t0, c0 = time.perf_counter(), time.process_time()
    res = scan(db, chunk=chunk)
    inproc, cpu = time.perf_counter() - t0, time.process_time() - c0
    say(f"in-process scan: {res.opened} opened, {res.visits} visits, {res.reaudits} re-audits, {res.escalated} escalated in {inproc:.2f} s")
    result["followup_scan_inprocess_s"] = round(inproc, 3)
    result["followup_scan_inprocess_cpu_s"] = round(cpu, 3)  # this process's CPU: what a busy shared machine does not inflate
    result.setdefault("followup_scan_s", round(inproc, 3))
    result.update(opened=res.opened, visits=res.visits, reaudits=res.reaudits, escalated=res.escalated)
    db.dispose()
    return result


def _flow_scan(db: Database, chunk: int, say: Callable[[str], None]) -> dict[str, Any]:
    """The ``followup-scan`` flow under one Prefect test harness (no heartbeat thread)."""
    import os

    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    from prefect.testing.utilities import prefect_test_harness

    from flows.followups import post_release_followups
    from flows.settings import fast_engine

    t0 = time.perf_counter()
    with prefect_test_harness(server_startup_timeout=120):
        boot = time.perf_counter() - t0
        say(f"Prefect test harness up in {boot:.1f} s")
        with fast_engine():
            t1 = time.perf_counter()
            out = post_release_followups(chunk=chunk, database_url=db.url)
            flow_s = time.perf_counter() - t1
    say(f"followup-scan flow: {out['opened']} opened over {out['ranges']} task(s), {out['escalated']} escalated in {flow_s:.2f} s")
    return {"followup_scan_s": round(flow_s, 3), "harness_start_s": round(boot, 1), "harness_total_s": round(time.perf_counter() - t0, 1),
            "tasks": out["ranges"]}


def cmd_bench_followups(ctx: Any) -> int:
    a = ctx.args
    result = run(products=a.products, chunk=a.chunk, prefect=not a.no_prefect, url=a.bench_db, echo=None if ctx.json else print)
    print(json.dumps(result))
    return 0
