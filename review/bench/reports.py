"""`ethics-review bench reports`: how long one review's dossier takes (50 controls, 200 trail rows).

The timed path is the one `ethics-review report review R` runs in direct mode: the dossier read
(review, assessments, controls with evidence, decisions, gate reports, follow-ups, audits, the trail,
the chain head and last checkpoint) and both renderings (Markdown and HTML). The process report
(``process_report_s_100k``) is not built yet: the JSON says so with null.
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
    p.set_defaults(func=cmd_bench_reports)


def cmd_bench_reports(ctx: Any) -> int:
    a = ctx.args
    print(json.dumps(run(controls=a.controls, trail=a.trail, runs=a.runs, echo=None if ctx.json else print)))
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
            "runs": runs, "backend": "sqlite", "process_report_s_100k": None}
