"""`ethics-review demo`: a fresh SQLite database, a dozen products, several walked through the gates."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path
from typing import Any

from review.cli import output


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("demo", help="build a fresh demo database and walk products through the gates")
    p.add_argument("--home", default="demo-data", help="directory for the demo database and evidence (recreated; default ./demo-data)")
    p.add_argument("--prefect", action="store_true",
                   help="run the gate steps and the follow-up scan as Prefect flow runs (uses PREFECT_API_URL, else boots a local "
                        "ephemeral server: slower)")
    p.set_defaults(func=cmd_demo)


def cmd_demo(ctx: Any) -> int:
    from review.demo.seed import DemoLog, run_demo
    from review.services.audit import verify_chain
    from review.services.queries import ReviewFilter, grade_distribution, list_reviews, open_controls
    from review.store.db import Database

    home = Path(ctx.args.home).resolve()
    if home.exists():
        if not (home / "ethics-review.db").exists() and any(home.iterdir()):
            from review.errors import InvalidInput

            raise InvalidInput(f"--home {home}: exists and is not a demo directory; choose an empty or new directory")
        shutil.rmtree(home)
    home.mkdir(parents=True)
    db = Database(f"sqlite:///{home / 'ethics-review.db'}", data_dir=home)
    db.upgrade()
    log = DemoLog(echo=None if ctx.json else (lambda t: output.say(t, style="dim")))
    if ctx.args.prefect:
        _run_with_prefect(db, log, home)
    else:
        run_demo(db, log=log, evidence_dir=home / "evidence-sources")
    page = list_reviews(db, ReviewFilter(), sort="id", descending=False, limit=100)
    dist = grade_distribution(db)
    gaps = open_controls(db)
    chain = verify_chain(db)
    if ctx.json:
        from review.services.followups import list_checks

        output.emit_json({"database": str(home / "ethics-review.db"), "reviews": [r.to_json() for r in page.rows],
                          "followups": list_checks(db, limit=50),
                          "grades": dist, "open_controls": gaps, "audit_rows": chain.rows, "audit_ok": chain.ok})
        return 0
    output.table("Where each product stands", ["id", "product", "gate", "status", "grade", "assignee"],
                 [(r.id, r.product, r.gate, output.status_text(r.status), output.grade_text(r.grade, r.grade_label), r.assignee or "-") for r in page.rows])
    order = ["LOW", "MEDIUM", "HIGH", "UNACCEPTABLE"]
    total = sum(dist.values()) or 1
    output.table("Grade distribution", ["grade", "reviews", ""],
                 [(output.grade_text(g), dist.get(g, 0), "#" * round(30 * dist.get(g, 0) / total)) for g in order])
    by_review: dict[str, list[str]] = {}
    for g in gaps:
        by_review.setdefault(f"{g['review_id']} {g['product']}", []).append(f"{g['control_id']}:{g['status'].lower()}")
    output.table(f"Open controls ({len(gaps)})", ["review", "controls"], [(k, ", ".join(v)) for k, v in by_review.items()])
    from review.services.followups import list_checks

    checks = list_checks(db, limit=50)
    output.table(f"Follow-up checks ({len(checks)})", ["check", "product", "kind", "status", "due", "visits", "finding"],
                 [(c["id"], c["product"], c["kind"], output.status_text(c["status"]), c["due_at"][:10], f"{c['visits_recorded']}/{c['visits']}",
                   c["finding"] or "-") for c in checks])
    output.say(f"audit log: {chain.rows} rows, chain {'intact' if chain.ok else 'BROKEN'}")
    output.say(f"database: {home / 'ethics-review.db'}  (try: export ETHICS_REVIEW_HOME={home}; ethics-review --as wei.chen list; "
               "ethics-review audit-log verify)")
    return 0


def _run_with_prefect(db: Any, log: Any, home: Path) -> None:
    """The same demo, each gate step and the scan as a Prefect flow run (named and tagged by review and gate)."""
    from flows.followups import post_release_followups
    from flows.gates import run_gate_flow
    from flows.settings import fast_engine
    from review.demo.seed import run_demo

    with fast_engine():
        run_demo(db, log=log, evidence_dir=home / "evidence-sources",
                 step=lambda gate, rid: run_gate_flow(gate, rid, database_url=db.url),
                 scan=lambda now: post_release_followups(now=now, database_url=db.url))
