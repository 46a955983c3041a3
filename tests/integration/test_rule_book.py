"""One rule book: what the TUI enables is exactly what the use case accepts, with the same words.

A property test puts a review in a random situation (gate, status, grade, assignee, control
statuses, approvals in the round, conflicts declared), picks a random person and one of the
TUI's actions, asks ``permissions`` (what the action bar shows) and then runs the use case.
Allowed must mean it succeeds; refused must mean it fails with the reasons the TUI showed
(for verify and waive, which the TUI judges per review and a command per control, the
person's refusals and the control's own).
"""

from __future__ import annotations

import itertools

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from review.demo.seed import ADMIN, CHAIR, REVIEWERS
from review.domain.grades import Grade
from review.domain.lifecycle import Gate, Status
from review.domain.rules import WAIVABLE
from review.errors import Forbidden, ReviewError
from review.services import controls, reviews
from review.services.permissions import ACTIONS, assignees, permissions
from review.store.db import Database, utcnow
from review.store.models import Assessment, ConflictDeclaration, ControlRequirement, Decision, Product, Review
from tests.integration.followup_helpers import submit

PEOPLE = (ADMIN, CHAIR, *REVIEWERS, "geo.lead", "dev.lead", "health.lead")
CONTROL_STATUSES = ("REQUIRED", "EVIDENCE_SUBMITTED", "VERIFIED", "REJECTED", "WAIVED")
#: declare-conflict is about a product, not a review, and declaring twice is accepted (it returns the declaration)
CHECKED = tuple(a for a in ACTIONS if a != "declare-conflict")
_names = itertools.count()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    from review.demo.seed import seed_people

    home = tmp_path_factory.mktemp("rulebook")
    db = Database(f"sqlite:///{home / 'rules.db'}", data_dir=home)
    db.upgrade()
    seed_people(db)
    rid = submit(db, "Customer-service copilot")
    yield db, rid
    db.dispose()


def _clone(db: Database, template: int, case: dict) -> int:
    """A copy of the template review (product, assessments, controls) put in ``case``'s situation."""
    now = utcnow()
    with db.engine.begin() as c:
        r = c.execute(sa.select(Review.__table__).where(Review.__table__.c.id == template)).mappings().one()
        p = c.execute(sa.select(Product.__table__).where(Product.__table__.c.id == r["product_id"])).mappings().one()
        pid = c.execute(sa.insert(Product.__table__).values({**{k: v for k, v in p.items() if k != "id"}, "name": f"Rule book {next(_names)}"})
                        .returning(Product.__table__.c.id)).scalar_one()
        gate, status = case["gate"], case["status"]
        rid = c.execute(sa.insert(Review.__table__).values({
            **{k: v for k, v in r.items() if k != "id"}, "product_id": pid, "gate": gate.value, "status": status.value,
            "grade": case["grade"].value, "assignee": case["assignee"], "suspended_from": case["suspended_from"].value if gate is Gate.SUSPENDED else None,
            "round": 1, "version": 1}).returning(Review.__table__.c.id)).scalar_one()
        for a in c.execute(sa.select(Assessment.__table__).where(Assessment.__table__.c.review_id == template)).mappings():
            c.execute(sa.insert(Assessment.__table__).values({**{k: v for k, v in a.items() if k != "id"}, "review_id": rid}))
        rows = c.execute(sa.select(ControlRequirement.__table__).where(ControlRequirement.__table__.c.review_id == template)
                         .order_by(ControlRequirement.__table__.c.id)).mappings().all()
        for row, st_ in zip(rows, itertools.cycle(case["controls"])):  # as many as the template has
            c.execute(sa.insert(ControlRequirement.__table__).values({**{k: v for k, v in row.items() if k != "id"}, "review_id": rid, "status": st_}))
        for who in case["approvals"]:
            c.execute(sa.insert(Decision.__table__).values(review_id=rid, gate=gate.value, action="approve", rationale="fine", actor=who,
                                                           actor_roles="chair" if who == CHAIR else "reviewer", grade=case["grade"].value,
                                                           pack_version="1", round=1, created_at=now))
        for who in case["conflicts"]:
            c.execute(sa.insert(ConflictDeclaration.__table__).values(username=who, product_id=pid, reason="declared", created_at=now))
    return rid


def _attempt(db: Database, rid: int, action: str, who: str) -> ReviewError | None:
    """Run the use case behind the TUI's ``action``; the refusal it raised, or None when it went through."""
    detail = {c.control_id: c.status for c in _controls(db, rid)}
    try:
        if action == "assign-to-me":
            reviews.assign(db, rid, who, actor=who)
        elif action == "assign":
            current = _assignee(db, rid)
            ok = [c.username for c in assignees(db, rid) if not c.why_not and c.username not in (who, current)]
            assume(ok)  # nobody else may take it: the dialog would offer no one
            reviews.assign(db, rid, ok[0], actor=who)
        elif action in ("approve", "request-changes", "reject"):
            reviews.decide(db, rid, action, actor=who, rationale="the committee's reasons")
        elif action == "verify":
            pick = next((k for k, v in detail.items() if v == "EVIDENCE_SUBMITTED"), next(iter(detail)))
            controls.verify(db, rid, pick, "pass", actor=who, rationale="checked")
        elif action == "waive":
            pick = next((k for k, v in detail.items() if v in WAIVABLE), next(iter(detail)))
            controls.waive(db, rid, pick, actor=who, rationale="replaced by a stronger control elsewhere")
        elif action == "override-grade":
            reviews.override_grade(db, rid, "LOW" if _grade(db, rid) != "LOW" else "MEDIUM", actor=who, rationale="the committee regraded it")
        elif action == "advance":
            reviews.advance(db, rid, actor=who)
        elif action == "submit-gate":
            reviews.submit_gate(db, rid, actor=who)
        elif action in ("suspend", "resume", "withdraw"):
            reviews.change_standing(db, rid, action, actor=who, rationale="the committee's reasons")
        else:
            raise AssertionError(action)
    except ReviewError as exc:
        return exc
    return None


def _controls(db: Database, rid: int) -> list[ControlRequirement]:
    with db.reading() as s:
        return list(s.execute(sa.select(ControlRequirement).where(ControlRequirement.review_id == rid).order_by(ControlRequirement.id)).scalars())


def _assignee(db: Database, rid: int) -> str | None:
    with db.reading() as s:
        return s.get(Review, rid).assignee


def _grade(db: Database, rid: int) -> str | None:
    with db.reading() as s:
        return s.get(Review, rid).grade


situations = st.fixed_dictionaries({
    "gate": st.sampled_from([*Gate, Gate.DEVELOPMENT, Gate.RELEASE]),
    "status": st.sampled_from([*Status, Status.IN_REVIEW, Status.IN_REVIEW, Status.SUBMITTED]),  # where most actions are
    "suspended_from": st.sampled_from([Gate.INITIATION, Gate.DEVELOPMENT, Gate.RELEASE, Gate.MONITORING]),
    "grade": st.sampled_from(list(Grade)),
    "assignee": st.sampled_from([None, CHAIR, *REVIEWERS]),
    "controls": st.lists(st.sampled_from(CONTROL_STATUSES), min_size=1, max_size=12),
    "approvals": st.sets(st.sampled_from([CHAIR, *REVIEWERS]), max_size=2),
    "conflicts": st.sets(st.sampled_from([CHAIR, *REVIEWERS]), max_size=1),
})


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=situations, who=st.sampled_from(PEOPLE))
def test_what_the_tui_enables_is_what_the_use_case_accepts(world, case, who) -> None:
    db, template = world
    for action in CHECKED:  # each on its own copy of the situation
        rid = _clone(db, template, case)
        shown = permissions(db, rid, who).actions[action]
        refused = _attempt(db, rid, action, who)
        if shown.allowed:
            assert refused is None, f"{action} by {who}: the TUI enables it, the use case refuses: {refused}"
            continue
        assert refused is not None, f"{action} by {who}: the TUI disables it ({'; '.join(shown.reasons)}), the use case accepts it"
        if action in ("verify", "waive"):
            # per control: the person's own refusals are the same words; the control's state speaks for itself
            for reason in shown.reasons:
                assert reason.startswith("no control") or reason in str(refused), (reason, str(refused))
            continue
        assert "; ".join(shown.reasons) in str(refused), (shown.reasons, str(refused))
        if isinstance(refused, Forbidden):
            assert refused.exit_code == 4
