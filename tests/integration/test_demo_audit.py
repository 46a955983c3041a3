"""The demo ships a content audit part-way through a double review (every spot-check screen has something real)."""

from __future__ import annotations

from pathlib import Path

from review.services import content_audit as ca
from review.services.content_report import verdict
from review.store.db import Database


def test_the_demo_ships_a_double_reviewed_audit_part_way_through(sqlite_db: Database, tmp_path: Path) -> None:
    from review.demo.seed import AUDIT_PRODUCT, run_demo

    ids = run_demo(sqlite_db, evidence_dir=tmp_path / "ev")
    (run, product), = ca.list_runs(sqlite_db)
    assert product == AUDIT_PRODUCT and run.double_review and run.review_id == ids[AUDIT_PRODUCT] and run.control_id == "CS-03"
    v = verdict(sqlite_db, run.id)
    assert (v.items, v.labelled, v.pairs, len(v.awaiting_adjudication), v.final) == (40, 30, 12, 1, None)
    assert v.kappa is not None and 0 < v.kappa < 1
