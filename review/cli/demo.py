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
    run_demo(db, log=log, evidence_dir=home / "evidence-sources")
    page = list_reviews(db, ReviewFilter(), sort="id", descending=False, limit=100)
    dist = grade_distribution(db)
    gaps = open_controls(db)
    chain = verify_chain(db)
    if ctx.json:
        output.emit_json({"database": str(home / "ethics-review.db"), "reviews": [r.to_json() for r in page.rows],
                          "grades": dist, "open_controls": gaps, "audit_rows": chain.rows, "audit_ok": chain.ok})
        return 0
    output.table("Where each product stands", ["id", "product", "gate", "status", "grade", "assignee"],
                 [(r.id, r.product, r.gate, output.status_text(r.status), output.grade_text(r.grade), r.assignee or "-") for r in page.rows])
    order = ["LOW", "MEDIUM", "HIGH", "UNACCEPTABLE"]
    total = sum(dist.values()) or 1
    output.table("Grade distribution", ["grade", "reviews", ""],
                 [(output.grade_text(g), dist.get(g, 0), "#" * round(30 * dist.get(g, 0) / total)) for g in order])
    by_review: dict[str, list[str]] = {}
    for g in gaps:
        by_review.setdefault(f"{g['review_id']} {g['product']}", []).append(f"{g['control_id']}:{g['status'].lower()}")
    output.table(f"Open controls ({len(gaps)})", ["review", "controls"], [(k, ", ".join(v)) for k, v in by_review.items()])
    output.say(f"audit log: {chain.rows} rows, chain {'intact' if chain.ok else 'BROKEN'}")
    output.say(f"database: {home / 'ethics-review.db'}  (try: ETHICS_REVIEW_DATABASE_URL=sqlite:///{home / 'ethics-review.db'} ethics-review --as wei.chen list)")
    return 0
