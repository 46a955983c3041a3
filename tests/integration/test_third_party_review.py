"""A third-party review end to end: the product names its supplier, the supplier's evidence is verified like any
other, and after release the follow-ups visit the supplier's contact (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import func, select

from review.demo.catalog import TEAM_SUBMITTERS
from review.demo.seed import CHAIR
from review.errors import ReviewError
from review.services import controls, dossier, followups, gates, reviews
from review.services.queries import show_review
from review.services.submissions import submit
from review.store.db import Database, utcnow
from review.store.models import Review
from review.store.models_followup import FollowupCheck, FollowupVisit
from tests.integration.followup_helpers import approve

pytestmark = pytest.mark.usefixtures("people")
TEAM = "game-art"
SUPPLIER = {"name": "Acme Models Ltd", "contact": "Jane Doe, trust & safety, trust@acme.example", "offering": "Acme-LM 3 via API",
            "contract": "MSA-2026-014"}


def doc(**product: Any) -> dict[str, Any]:
    p = {"name": "Partner image generator", "owner_team": TEAM, "business_line": "Games", "intended_users": ["general_public"],
         "deployment_regions": ["CN"], "data_categories": ["personal"], "capabilities": ["generative_content"],
         "supplier": SUPPLIER, "policy": "third-party", **product}
    return {"product": {k: v for k, v in p.items() if v is not None},
            "answers": {"relationship": "resold", "due_diligence": "vetted", "contract_gaps": [], "content_filter": "evidenced",
                        "test_bank": "meets", "incident_duty": "fixed_hours", "data_use": "no_training"}}


def _evidence_and_verify(db: Database, rid: int, tmp: Path, gate: str) -> None:
    for c in show_review(db, rid).controls:
        if c.verify_gate == gate:
            f = tmp / f"{rid}-{c.control_id}.md"
            f.write_text(f"supplier evidence for {c.control_id}")
            controls.add_evidence(db, rid, c.control_id, f, actor=TEAM_SUBMITTERS[TEAM])
            controls.verify(db, rid, c.control_id, "pass", actor="priya.nair", rationale="checked with the supplier")


def test_the_follow_ups_visit_the_supplier(db: Database, tmp_path: Path) -> None:
    team = TEAM_SUBMITTERS[TEAM]
    rid = submit(db, doc(), actor=team).id
    assert {c.control_id for c in show_review(db, rid).controls} == {"TP-01", "TP-02", "TP-03", "TP-04", "TP-07", "TP-08"}
    assert show_review(db, rid).review["grade"] == "MEDIUM"
    approve(db, rid, "priya.nair")
    reviews.advance(db, rid, actor=team)
    _evidence_and_verify(db, rid, tmp_path, "DEVELOPMENT")
    reviews.submit_gate(db, rid, actor=team)
    approve(db, rid, "priya.nair")
    reviews.advance(db, rid, actor=team)
    _evidence_and_verify(db, rid, tmp_path, "RELEASE")
    reviews.submit_gate(db, rid, actor=team)
    t0 = utcnow()
    approve(db, rid, "amara.okafor", second=CHAIR)
    gates.release_step(db, rid, now=t0)

    assert followups.scan(db, now=t0 + timedelta(days=89)).opened == 0
    res = followups.scan(db, now=t0 + timedelta(days=90))  # MEDIUM: every 90 days, the supplier once
    assert (res.opened, res.visits) == (1, 1)
    with db.reading() as s:
        [visit] = s.exec(select(FollowupVisit).join(FollowupCheck, FollowupCheck.id == FollowupVisit.check_id)
                         .where(FollowupCheck.review_id == rid)).all()
    assert visit.customer == "Acme Models Ltd (Jane Doe, trust & safety, trust@acme.example)"
    assert [q["text"] for q in visit.questionnaire][1] == "Do the supplier's latest test bank results still meet our bar?"
    # the supplier's verified evidence counts toward our own controls and the frameworks the pack maps to
    by_fw = {f["framework"]: {m["obligation"] for m in f["met"]} for f in dossier.dossier(db, rid).frameworks}
    assert {"CS-01", "CS-02", "CS-03", "CS-04"} <= by_fw["default"] and "A.10.3" in by_fw["iso-42001"] and "ART50-MARK" in by_fw["eu-ai-act"]


def test_a_third_party_product_without_its_supplier_is_refused_and_nothing_is_written(db: Database) -> None:
    with pytest.raises(ReviewError, match="supplier-named|product.supplier"):
        submit(db, doc(supplier=None), actor=TEAM_SUBMITTERS[TEAM])
    with db.reading() as s:
        assert s.exec(select(func.count()).select_from(Review)).one() == 0
