"""`ethics-review bench reports`: how long one review's dossier takes (50 controls, 200 trail rows).

The timed path is the one `ethics-review report review R` runs in direct mode: the dossier read
(review, assessments, controls with evidence, decisions, gate reports, follow-ups, audits, the trail,
the chain head and last checkpoint) and both renderings (Markdown and HTML).

``process_report_s_100k``: `ethics-review report process` over a database of 100,000 reviews with their
history, set-based seeded: per review a submission on the trail and one to three gate cycles, each with
its entry row and one to three decisions (about 400,000 trail rows and 230,000 decisions), plus
follow-up checks, feedback, notifications, overrides and refused attempts. The timed path is the
client call the CLI makes (all queries, the data and both renderings), over the whole history. The seeded
trail rows carry placeholder hashes: the chain of this throwaway database does not verify, and the
report does not walk it.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any


def register(bench: Any) -> None:
    p = bench.add_parser("reports", help="a review's dossier with 50 controls and 200 trail rows (ms)")
    p.add_argument("--controls", type=int, default=50)
    p.add_argument("--trail", type=int, default=200)
    p.add_argument("--runs", type=int, default=30)
    p.add_argument("--reviews", type=int, default=100_000, help="reviews in the process-report database (0: skip it)")
    p.add_argument("--pg", metavar="URL", default=None, help="seed and time the process report on this PostgreSQL (a scratch schema)")
    p.set_defaults(func=cmd_bench_reports)


def cmd_bench_reports(ctx: Any) -> int:
    a = ctx.args
    say = None if ctx.json else print
    out = run(controls=a.controls, trail=a.trail, runs=a.runs, echo=say)
    if a.reviews:
        out.update(run_process(reviews=a.reviews, pg=a.pg, echo=say))
    print(json.dumps(out))
    return 0


def run(*, controls: int = 50, trail: int = 200, runs: int = 30, echo: Any = print) -> dict[str, Any]:
    from review.client.local import LocalClient
    from review.demo.catalog import PRODUCTS, TEAM_SUBMITTERS, submission
    from review.demo.seed import CHAIR, seed_people
    from review.services import audit, checkpoints, reviews
    from review.store.db import Database, utcnow
    from review.store.models import ControlRequirement, Evidence

    say = echo or (lambda _t: None)
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'reports.db'}", data_dir=Path(tmp))
        db.upgrade()
        seed_people(db)
        doc = submission(next(p for p in PRODUCTS if p["product"]["name"] == "CV screening assistant"))
        rid = reviews.submit(db, doc, actor=TEAM_SUBMITTERS[doc["product"]["owner_team"]]).id
        reviews.assign(db, rid, "amara.okafor", actor=CHAIR)
        now = utcnow()
        with db.transaction() as s:
            have = s.query(ControlRequirement).filter(ControlRequirement.review_id == rid).count()
            for i in range(have, controls):
                s.add(ControlRequirement(review_id=rid, control_id=f"BENCH-{i:02d}", title=f"Bench control {i}", dimension="safety",
                                         required_from="LOW", verify_gate="DEVELOPMENT", evidence_expected="a document", status="EVIDENCE_SUBMITTED",
                                         updated_by="bench", updated_at=now))
            s.flush()
            for c in s.query(ControlRequirement).filter(ControlRequirement.review_id == rid):
                s.add(Evidence(review_id=rid, control_id=c.control_id, sha256=f"{c.id:064x}", filename=f"{c.control_id.lower()}.pdf",
                               size=1000 + c.id, uploaded_by="bench", uploaded_at=now))
        with db.transaction() as s:
            for i in range(trail):
                audit.record(s, actor="amara.okafor", action="note", entity="review", entity_id=rid, before=None, after={"note": i})
        checkpoints.create(db)
        client = LocalClient(db, "amara.okafor")
        client.review_report(rid)  # warm: imports, the pack
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            rep = client.review_report(rid)
            times.append((time.perf_counter() - t0) * 1000)
        db.dispose()
    p95 = sorted(times)[max(0, round(0.95 * (len(times) - 1)))]
    say(f"dossier of a review with {controls} controls and {trail} trail rows: median {statistics.median(times):.1f} ms, "
        f"p95 {p95:.1f} ms over {runs} runs (Markdown {len(rep.markdown):,} chars, HTML {len(rep.html):,} chars)")
    return {"dossier_ms": round(statistics.median(times), 1), "dossier_p95_ms": round(p95, 1), "controls": controls, "trail_rows": trail,
            "runs": runs, "backend": "sqlite"}


def seed_history(db: Any, n: int, *, seed: int = 11) -> dict[str, int]:
    """``n`` reviews (``review.bench.core.bulk_reviews``) and their history, inserted set-based."""
    import random
    from datetime import timedelta

    import sqlalchemy as sa

    from review.bench.core import bulk_reviews
    from review.store.db import utcnow
    from review.store.models import AuditHead, AuditLog, Decision, Review
    from review.store.models_followup import Feedback, FollowupCheck, Notification

    rng = random.Random(seed)
    bulk_reviews(db, n)
    now = utcnow()
    people = ["amara.okafor", "lucas.martin", "priya.nair", "wei.chen"]
    gates = ["INITIATION", "DEVELOPMENT", "RELEASE"]
    counts = {"trail": 0, "decisions": 0, "checks": 0, "feedback": 0}
    next_id = 0

    def row(trail: list[dict[str, Any]], rid: int, grade: str | None, at: Any, action: str, gate: str, before: Any = None, **after: Any) -> None:
        nonlocal next_id
        trail.append({"id": next_id, "at": at, "actor": rng.choice(people), "action": action, "entity": "review",
                      "entity_id": str(rid), "before": before, "after": {"gate": gate, "grade": grade, **after},
                      "policy_version": "default 1.1.0", "prev_hash": "0" * 64, "hash": f"{next_id:064x}", "fmt": 2})
        next_id += 1

    with db.engine.begin() as conn:
        next_id = (conn.execute(sa.select(sa.func.max(AuditLog.id))).scalar() or 0) + 1
        ids = conn.execute(sa.select(Review.id, Review.grade, Review.product_id).order_by(Review.id)).all()
        for lo in range(0, len(ids), 5_000):
            trail, decisions, checks, feedback, notes = [], [], [], [], []
            for rid, grade, pid in ids[lo:lo + 5_000]:
                t0 = now - timedelta(days=rng.uniform(1, 360), minutes=rng.randint(0, 1440))

                at = t0
                for gi in range(rng.choice((1, 1, 2, 3))):
                    gate = gates[gi]
                    row(trail, rid, grade, at, "submit" if gi == 0 else "submit-gate", gate)
                    for k in range(rng.choice((1, 1, 2, 3))):
                        at = at + timedelta(hours=rng.uniform(2, 24 * 20))
                        action = "approve" if k or rng.random() < 0.8 else rng.choice(("request-changes", "reject"))
                        decisions.append({"review_id": rid, "gate": gate, "action": action, "rationale": "bench", "actor": rng.choice(people),
                                          "actor_roles": "reviewer", "grade": grade, "pack_version": "1.1.0", "round": 1, "created_at": at})
                    row(trail, rid, grade, at, "assign", gate)
                    if rng.random() < 0.02:
                        row(trail, rid, grade, at, "override-grade", gate, before={"grade": "HIGH"})
                    if rng.random() < 0.01:
                        row(trail, rid, grade, at, "refused:assign", gate, reasons=["segregation of duties"])
                    at = at + timedelta(days=rng.uniform(0, 10))
                if rng.random() < 0.2:
                    row(trail, rid, grade, at, "release", "RELEASE")
                    due = at + timedelta(days=90)
                    done = due < now and rng.random() < 0.8
                    checks.append({"review_id": rid, "product_id": pid, "sequence": 1, "kind": "cadence", "grade": grade or "LOW",
                                   "status": ("COMPLETED" if rng.random() < 0.9 else "TRIGGERED") if done else ("OPEN" if due < now else "SCHEDULED"),
                                   "due_at": due, "closed_at": due + timedelta(days=rng.uniform(-5, 5)) if done else None, "created_at": at})
                    if rng.random() < 0.05:
                        row(trail, rid, grade, due, "reopen", "INITIATION")
                if rng.random() < 0.05:
                    cr = t0 + timedelta(days=rng.uniform(0, 30))
                    tri = cr + timedelta(hours=rng.uniform(1, 200)) if rng.random() < 0.9 else None
                    feedback.append({"product_id": pid, "message": "bench", "status": rng.choice(("CREDIBLE", "NOT_CREDIBLE")) if tri else "NEW",
                                     "triaged_at": tri, "created_at": cr})
                notes.append({"kind": "decision", "recipient": "committee", "review_id": rid, "subject": "bench", "body": "",
                              "delivery": rng.choice(("SENT", "LOGGED", "PENDING")), "created_at": at})
            conn.execute(sa.insert(AuditLog), trail)
            conn.execute(sa.insert(Decision), decisions)
            if checks:
                conn.execute(sa.insert(FollowupCheck), checks)
            if feedback:
                conn.execute(sa.insert(Feedback), feedback)
            conn.execute(sa.insert(Notification), notes)
            counts["trail"] += len(trail)
            counts["decisions"] += len(decisions)
            counts["checks"] += len(checks)
            counts["feedback"] += len(feedback)
        conn.execute(sa.update(AuditHead).values(last_id=next_id - 1, last_hash=f"{next_id - 1:064x}"))
    return counts


def run_process(*, reviews: int = 100_000, pg: str | None = None, runs: int = 3, echo: Any = print) -> dict[str, Any]:
    """Seed ``reviews`` reviews with their history and time the process report over all of it (seconds)."""
    import contextlib

    from review.bench.scratch import scratch_schema
    from review.client.local import LocalClient
    from review.demo.seed import seed_people
    from review.store.db import Database

    say = echo or (lambda _t: None)
    with contextlib.ExitStack() as stack:
        if pg:
            url, home = stack.enter_context(scratch_schema(pg, "reports"))
        else:
            home = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            url = f"sqlite:///{home / 'process.db'}"
        db = Database(url, data_dir=home)
        db.upgrade()
        seed_people(db)
        t0 = time.perf_counter()
        counts = seed_history(db, reviews)
        say(f"seeded {reviews:,} reviews, {counts['trail']:,} trail rows, {counts['decisions']:,} decisions, {counts['checks']:,} follow-up "
            f"checks and {counts['feedback']:,} feedback items in {time.perf_counter() - t0:.1f} s")
        client = LocalClient(db, "wei.chen")
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            rep = client.process_report("2000-01-01", None)
            times.append(time.perf_counter() - t0)
        mech = next(d for d in rep.data["dimensions"] if d["key"] == "mechanism_guarantee")
        say(f"process report over {reviews:,} reviews: median {statistics.median(times):.2f} s over {runs} runs "
            f"({mech['figures']['gate cycles decided']:,} gate cycles; Markdown {len(rep.markdown):,} chars, HTML {len(rep.html):,} chars)")
        db.dispose()
    return {"process_report_s_100k" if reviews == 100_000 else "process_report_s": round(statistics.median(times), 2),
            "process_reviews": reviews, "process_backend": "postgresql" if pg else "sqlite", **{f"process_{k}": v for k, v in counts.items()}}
