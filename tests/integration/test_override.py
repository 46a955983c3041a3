"""A grade override re-derives the controls, and a big lowering needs a second signature.

Lowering by more than one level, from UNACCEPTABLE, or below what a hard trigger set is proposed by one
chair and applied only when another chair or an admin signs the same override; both are on the trail.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from review.demo.seed import ADMIN, CHAIR
from review.errors import Conflict, Forbidden
from review.services import reviews
from review.services.queries import show_review
from review.store.db import Database
from review.store.models import AuditLog
from review.store.models_followup import Notification
from tests.integration.followup_helpers import submit

pytestmark = pytest.mark.usefixtures("people")


def _required(db: Database, rid: int) -> set[str]:
    return {c.control_id for c in show_review(db, rid).controls}


def _grade_of(db: Database, name: str) -> tuple[int, str, list[str]]:
    rid = submit(db, name)
    d = show_review(db, rid)
    return rid, d.review["grade"], d.assessments[0]["triggers_fired"]


def test_raising_the_grade_requires_the_controls_of_the_new_grade(db: Database) -> None:
    rid, grade, _ = _grade_of(db, "Code assistant")
    before = _required(db, rid)
    assert grade == "LOW"
    r = reviews.override_grade(db, rid, "MEDIUM", actor=CHAIR, rationale="the model writes production code unsupervised")
    assert r.grade == "MEDIUM"
    after = _required(db, rid)
    assert before < after  # more controls, none dropped
    with db.reading() as s:
        last = s.execute(sa.select(AuditLog).where(AuditLog.action == "override-grade").order_by(AuditLog.id.desc())).scalars().first()
    assert last.after["signed_by"] == [CHAIR] and set(last.after["required_controls"]) == after
    # and back down one level: the controls only MEDIUM needed go again (one signature is enough)
    r = reviews.override_grade(db, rid, grade, actor=CHAIR, rationale="on reflection the original grade holds")
    assert r.grade == grade and _required(db, rid) == before


def test_lowering_two_levels_needs_a_second_signature_from_another_chair_or_admin(db: Database) -> None:
    rid, _, _ = _grade_of(db, "Code assistant")
    reviews.override_grade(db, rid, "HIGH", actor=CHAIR, rationale="raised first")
    high = _required(db, rid)
    r = reviews.override_grade(db, rid, "LOW", actor=CHAIR, rationale="the product was descoped to internal use")
    assert r.grade == "HIGH" and _required(db, rid) == high  # proposed, nothing changed yet
    with db.reading() as s:
        n = s.execute(sa.select(Notification).where(Notification.kind == "override-second-signature")).scalars().one()
    assert n.recipient == "chair" and "more than one level" in n.body
    with pytest.raises(Conflict, match="already proposed"):
        reviews.override_grade(db, rid, "LOW", actor=CHAIR, rationale="again")
    with pytest.raises(Forbidden, match="neither a chair nor an admin") as exc:
        reviews.override_grade(db, rid, "LOW", actor="priya.nair", rationale="I agree")
    assert exc.value.exit_code == 4
    r = reviews.override_grade(db, rid, "LOW", actor=ADMIN, rationale="confirmed with the product owner")
    assert r.grade == "LOW" and _required(db, rid) < high
    with db.reading() as s:
        trail = s.execute(sa.select(AuditLog.action, AuditLog.actor, AuditLog.after).where(AuditLog.entity_id == str(rid),
                                                                                          AuditLog.action.like("override-grade%"))
                          .order_by(AuditLog.id)).all()
    assert [(a, who) for a, who, _ in trail] == [("override-grade", CHAIR), ("override-grade:proposed", CHAIR), ("override-grade", ADMIN)]
    assert trail[-1][2]["signed_by"] == [CHAIR, ADMIN]
    # the proposal is spent: raising and lowering again needs a new one
    reviews.override_grade(db, rid, "HIGH", actor=CHAIR, rationale="raised again")
    assert reviews.override_grade(db, rid, "LOW", actor=CHAIR, rationale="once more").grade == "HIGH"


def test_lowering_from_unacceptable_or_below_a_trigger_needs_a_second_signature(db: Database) -> None:
    rid, grade, fired = _grade_of(db, "City video analytics")
    assert fired, "the demo's city video analytics fires a hard trigger"
    below = {"UNACCEPTABLE": "HIGH", "HIGH": "MEDIUM", "MEDIUM": "LOW"}[grade]
    r = reviews.override_grade(db, rid, below, actor=CHAIR, rationale="the trigger does not apply to this deployment")
    assert r.grade == grade  # proposed only
    with db.reading() as s:
        n = s.execute(sa.select(Notification.body).where(Notification.kind == "override-second-signature")).scalar_one()
    assert "hard trigger" in n or "UNACCEPTABLE" in n
