"""No dead ends, and one rule for the TUI and the use cases (issue: the committee's process, closed).

A harmful product can always be stopped: withdrawn from every state, suspended at every gate
once it has been released (a follow-up finding may reopen it at INITIATION). Refusals name
what a person types. Assignment respects recusal of the chair who assigns, and a reviewer
does not take over a review another reviewer holds. What the TUI enables is what the use case
accepts (advance at RELEASE with unmet release controls was enabled and then refused).
"""

from __future__ import annotations

import pytest

from review.demo.seed import CHAIR
from review.errors import Forbidden, GateBlocked, IllegalTransition
from review.services import audit, reviews, users
from review.services.permissions import permissions
from review.services.queries import show_review
from review.store.db import Database
from tests.integration.followup_helpers import approve, released, submit, team_of, to_release_gate
from review.demo.catalog import TEAM_SUBMITTERS

pytestmark = pytest.mark.usefixtures("people")
GEO = "Remote-sensing platform"


def test_a_released_product_reopened_at_initiation_can_be_suspended_and_resumed(db: Database, tmp_path) -> None:
    rid = released(db, GEO, tmp_path)
    reviews.change_standing(db, rid, "reopen", actor=CHAIR, rationale="a follow-up visit found harm", to_gate="INITIATION")
    assert permissions(db, rid, CHAIR).allowed("suspend")
    r = reviews.change_standing(db, rid, "suspend", actor=CHAIR, rationale="stop it while we look")
    assert (r.gate, r.suspended_from) == ("SUSPENDED", "INITIATION")
    r = reviews.change_standing(db, rid, "resume", actor=CHAIR, rationale="the fix is in")
    assert (r.gate, r.status) == ("INITIATION", "SUBMITTED")
    r = reviews.change_standing(db, rid, "withdraw", actor=CHAIR, rationale="the team retired the product")
    assert r.gate == "WITHDRAWN"


def test_a_submission_never_released_is_withdrawn_at_initiation_not_suspended(db: Database) -> None:
    rid = submit(db, "Customer-service copilot")
    perms = permissions(db, rid, CHAIR)
    assert not perms.allowed("suspend") and perms.allowed("withdraw")
    with pytest.raises(IllegalTransition, match="cannot suspend review .*: the review is at INITIATION/SUBMITTED; allowed there: assign, withdraw"):
        reviews.change_standing(db, rid, "suspend", actor=CHAIR, rationale="not released: nothing to stop")
    assert reviews.change_standing(db, rid, "withdraw", actor=CHAIR, rationale="submitted by mistake").gate == "WITHDRAWN"


def test_a_recused_chair_cannot_assign_the_review(db: Database) -> None:
    rid = submit(db, "Customer-service copilot")
    users.declare_conflict(db, "Customer-service copilot", actor=CHAIR, reason="my spouse leads that team")
    assert not permissions(db, rid, CHAIR).allowed("assign")
    with pytest.raises(Forbidden, match="recused: wei.chen declared a conflict") as exc:
        reviews.assign(db, rid, "amara.okafor", actor=CHAIR)
    assert exc.value.exit_code == 4
    assert reviews.assign(db, rid, "amara.okafor", actor="admin").assignee == "amara.okafor"  # an admin still can


def test_a_reviewer_does_not_take_over_a_review_another_reviewer_holds(db: Database) -> None:
    rid = submit(db, "Customer-service copilot")
    reviews.assign(db, rid, "amara.okafor", actor="amara.okafor")
    assert not permissions(db, rid, "priya.nair").allowed("assign-to-me")
    with pytest.raises(Forbidden, match="amara.okafor holds this review; the chair reassigns it"):
        reviews.assign(db, rid, "priya.nair", actor="priya.nair")
    assert reviews.assign(db, rid, "priya.nair", actor=CHAIR).assignee == "priya.nair"


def test_assigning_to_someone_segregation_forbids_is_not_allowed_exit_4(db: Database) -> None:
    rid = submit(db, "Customer-service copilot")
    submitter = TEAM_SUBMITTERS[team_of("Customer-service copilot")]
    with pytest.raises(Forbidden) as exc:
        reviews.assign(db, rid, submitter, actor=CHAIR)
    assert exc.value.exit_code == 4
    # the refused attempt is on the trail (written after the use case rolled back); the review is as it was
    rows = [r for r in audit.recent(db, review_id=rid) if r.action.startswith("refused:")]
    assert [(r.actor, r.action, r.after["to"]) for r in rows] == [(CHAIR, "refused:assign", submitter)]
    assert rows[0].after["reasons"] and str(exc.value).endswith("; ".join(rows[0].after["reasons"]))
    assert show_review(db, rid).review["assignee"] is None
    assert audit.verify_chain(db).ok


def test_advance_at_release_with_unmet_release_controls_is_refused_in_both_places(db: Database, tmp_path) -> None:
    name = "Medical LLM assistant"  # HIGH: controls verified at RELEASE too
    rid = to_release_gate(db, name, tmp_path, verify_all=False)
    approve(db, rid, "amara.okafor", second=CHAIR)
    team = TEAM_SUBMITTERS[team_of(name)]
    perms = permissions(db, rid, team)
    assert not perms.allowed("advance") and "required controls are unmet" in perms.why_not("advance")
    with pytest.raises(GateBlocked, match="cannot advance from RELEASE while required controls are unmet"):
        reviews.advance(db, rid, actor=team)


def test_a_standing_verdict_refusal_names_who_gave_it_and_when_in_both_places(db: Database, tmp_path) -> None:
    from review.errors import Conflict
    from review.services import controls
    from review.store.db import utcnow
    from tests.integration.followup_helpers import evidence

    name = "Remote-sensing platform"
    rid = submit(db, name)
    approve(db, rid, "priya.nair")
    reviews.advance(db, rid, actor=TEAM_SUBMITTERS[team_of(name)])
    evidence(db, rid, name, tmp_path, ("DEVELOPMENT",))
    controls.verify(db, rid, "HCT-01", "pass", actor="priya.nair")
    today = utcnow().strftime("%Y-%m-%d")
    with pytest.raises(Conflict, match=f"control HCT-01 is already VERIFIED by priya.nair \\({today}\\): a verdict stands"):
        controls.verify(db, rid, "HCT-01", "fail", actor="amara.okafor", rationale="second opinion")
