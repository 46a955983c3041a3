"""Core benchmark: submission latency (validate + grade + persist) and list latency at 100k reviews.

Figures (issue "Review core"): ``submit_p95_ms`` <= 50 and ``list_ms_100k`` <= 200 on SQLite;
``search_ms`` (name search) <= 100 at 1,000,000 reviews. The bulk rows are inserted first, with
set-based SQL; then the submissions go through ``review.services.reviews.submit`` exactly as the
CLI does (one transaction each, audit row included) on that populated database, and the list is
timed through ``review.services.queries.list_reviews``. The temporary database is removed afterwards.
"""

from __future__ import annotations

import copy
import random
import statistics
import time
from datetime import timedelta
from typing import Any, Callable

import sqlalchemy as sa

from review.demo.catalog import PRODUCTS, submission
from review.demo.seed import seed_people, TEAM_SUBMITTERS
from review.bench.scratch import scratch_dir
from review.services import reviews as review_service
from review.services.queries import ReviewFilter, list_reviews
from review.store.db import Database, utcnow
from review.store.models import Product, Review

GATES = ["INITIATION", "DEVELOPMENT", "RELEASE", "MONITORING"]
STATUSES = ["SUBMITTED", "IN_REVIEW", "CHANGES_REQUESTED", "APPROVED", "REJECTED", "DRAFT"]
GRADES = ["LOW", "MEDIUM", "HIGH", "UNACCEPTABLE"]


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    k = max(0, min(len(s) - 1, round(q * (len(s) - 1))))
    return s[k]


def bulk_reviews(db: Database, n: int, *, start: int = 0, seed: int = 7) -> None:
    """Insert ``n`` products with one review each, set-based, in chunks."""
    rng = random.Random(seed)
    now = utcnow()
    teams = list(TEAM_SUBMITTERS)
    chunk = 10_000
    with db.engine.begin() as conn:
        for base in range(start, start + n, chunk):
            size = min(chunk, start + n - base)
            prods = []
            for i in range(base, base + size):
                team = teams[i % len(teams)]
                prods.append({"name": f"Bench product {i:07d}", "owner_team": team, "business_line": "Bench",
                              "description": "", "profile": {"name": f"Bench product {i:07d}"}, "policy_id": "default",
                              "created_by": TEAM_SUBMITTERS[team], "created_at": now})
            conn.execute(sa.insert(Product), prods)
            first_id = conn.execute(sa.select(sa.func.min(Product.id)).where(Product.name == prods[0]["name"])).scalar_one()
            revs = []
            for j in range(size):
                g = rng.choice(GRADES)
                revs.append({"product_id": first_id + j, "gate": rng.choice(GATES), "status": rng.choice(STATUSES), "grade": g,
                             "assignee": rng.choice([None, "amara.okafor", "lucas.martin", "priya.nair"]),
                             "submitted_by": "bench", "policy_id": "default", "policy_version": "1.1.0",
                             "priority": GRADES.index(g), "due_at": now + timedelta(days=rng.randint(-20, 20)),
                             "round": 1, "version": 1, "created_at": now, "updated_at": now})
            conn.execute(sa.insert(Review), revs)
    if db.engine.dialect.name == "postgresql":  # what autovacuum does soon after a bulk load: the planner needs the row counts
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE product, review")


def pack_documents(pack_id: str, n: int, *, seed: int = 7) -> list[dict[str, Any]]:
    """``n`` product files for a pack other than the default (whose demo products answer only it): the demo's
    profiles with random valid answers (conditions followed, free text written, optional ones sometimes left out)."""
    from policies.loader import load_pack
    from review.domain.grading import holds
    from review.domain.product import ProductProfile

    pack = load_pack(pack_id).pack
    kinds = {q.id: q.kind for q in pack.questions}
    rng = random.Random(seed)
    out = []
    for i in range(n):
        doc = submission(PRODUCTS[i % len(PRODUCTS)])
        doc["product"]["policy"] = pack_id
        profile = ProductProfile.model_validate(doc["product"])
        answers: dict[str, list[str]] = {}
        for q in pack.questions:
            if (q.when is not None and not holds(q.when, profile, answers)) or (q.optional and rng.random() < 0.5):
                continue
            ids = [o.id for o in q.options]
            if q.kind == "text":
                answers[q.id] = [f"Explanation {i} for {q.id}."]
            elif q.kind == "multiple":
                answers[q.id] = rng.sample(ids, rng.randint(0 if q.allow_none else 1, len(ids)))
            else:
                answers[q.id] = [rng.choice(ids)]
        doc["answers"] = {k: v if kinds[k] == "multiple" else v[0] for k, v in answers.items()}
        out.append(doc)
    return out


def run(*, reviews: int = 100_000, submits: int = 300, url: str | None = None, packs: tuple[str, ...] = ("default",),
        echo: Callable[[str], None] | None = print) -> dict[str, Any]:
    with scratch_dir("ethics-review-bench-") as tmp:
        return _run(Database(url or f"sqlite:///{tmp / 'bench.db'}", data_dir=tmp), reviews, submits, packs, echo or (lambda _t: None))


def _run(db: Database, reviews: int, submits: int, packs: tuple[str, ...], say: Callable[[str], None]) -> dict[str, Any]:
    db.upgrade()
    seed_people(db)
    # -- bring the database to `reviews` rows first: a submit is timed where it runs, next to the others
    t0 = time.perf_counter()
    bulk_reviews(db, max(0, reviews - submits * len(packs)))
    say(f"seeded {max(0, reviews - submits * len(packs))} reviews in {time.perf_counter() - t0:.1f} s")

    # -- submit: validate + grade + persist (+ controls + audit), one transaction each; packs interleaved, so
    # every pack's figure comes from the same run under the same load
    docs = {pk: [submission(p) for p in PRODUCTS] if pk == "default" else pack_documents(pk, len(PRODUCTS) * 4) for pk in packs}
    timings: dict[str, list[float]] = {pk: [] for pk in packs}
    for i in range(submits):
        for pk in packs:
            doc = copy.deepcopy(docs[pk][i % len(docs[pk])])
            doc["product"]["name"] = f"{doc['product']['name']} #{i} {pk}"
            actor = TEAM_SUBMITTERS[doc["product"]["owner_team"]]
            t0 = time.perf_counter()
            review_service.submit(db, doc, actor=actor, source="bench")
            timings[pk].append((time.perf_counter() - t0) * 1000)
    p95: dict[str, float] = {}
    p50: dict[str, float] = {}
    for pk, runs in timings.items():
        warm = runs[5:] if len(runs) > 10 else runs
        p50[pk], p95[pk] = statistics.median(warm), _pct(warm, 0.95)
        say(f"submit ({pk}, {reviews:,} reviews in the database): n={len(warm)} p50={p50[pk]:.1f} ms p95={p95[pk]:.1f} ms "
            f"max={max(warm):.1f} ms")

    # -- list: time page queries
    cases = {
        "default page (newest first, with total)": dict(f=ReviewFilter()),
        "gate+status filter": dict(f=ReviewFilter(gate="INITIATION", status="SUBMITTED")),
        "assignee + overdue": dict(f=ReviewFilter(assignee="amara.okafor", overdue=True)),
        "sorted by due date": dict(f=ReviewFilter(), sort="due", descending=False),
        "search by name": dict(f=ReviewFilter(search="0042")),
        "deep page (offset 50,000)": dict(f=ReviewFilter(), offset=50_000),
    }
    figures: dict[str, float] = {}
    for label, kw in cases.items():
        f = kw.pop("f")
        runs = []
        for _ in range(15):
            t0 = time.perf_counter()
            page = list_reviews(db, f, limit=50, **kw)
            runs.append((time.perf_counter() - t0) * 1000)
        figures[label] = statistics.median(runs)
        say(f"list {label}: median {figures[label]:.1f} ms (total {page.total})")
    db.dispose()
    return {
        "submit_p50_ms": round(p50[packs[0]], 2),
        "submit_p95_ms": round(p95[packs[0]], 2),
        **({"submit_p95_ms_by_pack": {pk: round(v, 2) for pk, v in p95.items()}} if len(packs) > 1 else {}),
        "list_ms_100k": round(figures["default page (newest first, with total)"], 2),
        "list_worst_ms_100k": round(max(figures.values()), 2),
        "search_ms": round(figures["search by name"], 2),
        "assignee_overdue_ms": round(figures["assignee + overdue"], 2),
        "reviews": reviews,
        "packs": list(packs),
        "backend": "sqlite" if db.is_sqlite else db.engine.dialect.name,
    }
