"""Pilot-driven functional tests: keys in, database effects out (SQLite)."""

from __future__ import annotations

from sqlmodel import select

from review.services import controls, reviews
from review.services.queries import show_review
from review.store.models import Assessment, ControlRequirement, Decision, Review
from tests.tui.conftest import settle, wait_for_queue
from tui.app import EthicsReviewApp
from tui.messages import OpenReview
from tui.modals import (AssignModal, ConflictModal, DecideModal, ErrorModal, OverrideGradeModal, StandingModal, VerifyControlModal, VerifyRequest,
                        WaiveControlModal)
from tui.screens.queue import QueueScreen
from tui.screens.workspace import ReviewWorkspace

SIZE = (150, 45)


def _decisions(db, rid: int) -> list[Decision]:
    with db.reading() as s:
        return list(s.exec(select(Decision).where(Decision.review_id == rid).order_by(Decision.id)).all())


def _review(db, rid: int) -> Review:
    with db.reading() as s:
        return s.get(Review, rid)


async def _open_from_queue(pilot, search: str, rid: int) -> ReviewWorkspace:
    """Triage: search the queue incrementally, check the row, open it with enter."""
    await wait_for_queue(pilot)
    await pilot.press("slash")  # focus moves on the next tick: wait for it before typing
    await settle(pilot)
    for ch in search:  # one keystroke at a time, each one re-filters (incremental search)
        await pilot.press(ch)
        await settle(pilot)
    queue = pilot.app.screen
    assert isinstance(queue, QueueScreen)
    assert queue.table.row_count == 1, f"the search narrows the queue to one review: {queue.query_one('#queue-status').render()} gen={queue.generation}"
    assert queue.table.current_review_id == rid
    await pilot.press("escape", "enter")
    await settle(pilot)
    ws = pilot.app.screen
    assert isinstance(ws, ReviewWorkspace) and ws.review_id == rid and ws.detail is not None
    return ws


async def test_triage_assign_and_request_changes(demo):
    db, ids = demo
    rid = ids["Customer-service copilot"]  # INITIATION/SUBMITTED, unassigned
    app = EthicsReviewApp(db, "priya.nair")
    async with app.run_test(size=SIZE) as pilot:
        await _open_from_queue(pilot, "copilot", rid)
        await pilot.press("a")  # assign to me
        await settle(pilot)
        assert _review(db, rid).assignee == "priya.nair"
        assert _review(db, rid).status == "IN_REVIEW"
        await pilot.press("c")  # request changes
        await settle(pilot)
        modal = app.screen
        assert isinstance(modal, DecideModal) and modal.chosen == "request-changes"
        await pilot.press("ctrl+s")  # no rationale yet: refused in the modal, nothing written
        await settle(pilot)
        assert isinstance(app.screen, DecideModal)
        assert "rationale" in str(app.screen.query_one("#problem").render()).lower()
        assert [d.action for d in _decisions(db, rid)] == []
        await pilot.press(*"Explain how escalations reach a human agent", "enter")
        await settle(pilot)
        assert isinstance(app.screen, ReviewWorkspace)
    decided = _decisions(db, rid)
    assert [(d.action, d.actor, d.rationale) for d in decided] == [
        ("request-changes", "priya.nair", "Explain how escalations reach a human agent")]
    assert _review(db, rid).status == "CHANGES_REQUESTED"


async def test_open_and_approve_updates_queue(demo):
    db, ids = demo
    rid = ids["City video analytics"]  # IN_REVIEW, assigned to amara.okafor
    app = EthicsReviewApp(db, "amara.okafor")
    async with app.run_test(size=SIZE) as pilot:
        await _open_from_queue(pilot, "City video", rid)
        await pilot.press("p")
        await settle(pilot)
        assert isinstance(app.screen, DecideModal) and app.screen.chosen == "approve"
        await pilot.press(*"Retention limits and signage verified", "ctrl+s")
        await settle(pilot)
        ws = app.screen
        assert isinstance(ws, ReviewWorkspace)
        assert ws.detail.review["status"] == "APPROVED"  # reloaded after the action
        await pilot.press("escape")
        await settle(pilot)
        queue = app.screen
        assert isinstance(queue, QueueScreen)
        row = queue.table.get_row(str(rid))
        assert "approved" in str(row[3])  # the queue re-read its rows after the change
    assert [(d.action, d.actor) for d in _decisions(db, rid)] == [("approve", "amara.okafor")]
    assert _review(db, rid).status == "APPROVED"


def _new_hr02_evidence(db, rid: int, text: str) -> None:
    """The Board-game robot's team uploads new evidence for HR-02 (its earlier verification failed)."""
    from review.demo.catalog import TEAM_SUBMITTERS

    path = db.data_dir / f"hr02-{abs(hash(text))}.md"
    path.write_text(text)
    controls.add_evidence(db, rid, "HR-02", path, actor=TEAM_SUBMITTERS["edu-robotics"])


async def test_verify_a_control(demo, tmp_path):
    db, ids = demo
    rid = ids["Board-game robot for children"]
    _new_hr02_evidence(db, rid, "Minors' mode covered in section 4\n\x1b[31mred\x1b[0m [b]not markup[/b]\n")
    app = EthicsReviewApp(db, "amara.okafor")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_queue(pilot)
        app.post_message(OpenReview(rid))
        await settle(pilot)
        ws = app.screen
        assert isinstance(ws, ReviewWorkspace)
        assert ws.perms.allowed("verify")
        await pilot.press("v")
        await settle(pilot)
        modal = app.screen
        assert isinstance(modal, VerifyControlModal) and modal.initial == "HR-02"
        # the evidence: every file with size, hash and uploader; a preview of the newest (untrusted text stays text)
        files = str(modal.query_one("#evidence-files").render())
        assert "hr02-" in files and "sha256" in files and " by " in files and " bytes" in files
        preview = str(modal.query_one("#evidence-preview").render())
        assert "Minors' mode covered in section 4" in preview and "\u241b[31mred" in preview and "[b]not markup[/b]" in preview
        assert "\x1b" not in preview
        modal.query_one("#save-to").value = str(tmp_path)
        await pilot.click("#save")
        await settle(pilot)
        saved = list(tmp_path.glob("hr02-*.md"))
        assert len(saved) == 1 and saved[0].read_text().startswith("Minors' mode covered in section 4")
        assert any("hash checked" in n.message for n in app._notifications)
        modal.query_one("#rationale").focus()
        await pilot.press("ctrl+s")  # pass is the default verdict; no rationale needed for a pass
        await settle(pilot)
        assert isinstance(app.screen, ReviewWorkspace)
        assert "verified" in str(app.screen.query_one("#ws-controls").get_row("HR-02")[3])
    with db.reading() as s:
        c = s.exec(select(ControlRequirement).where(ControlRequirement.review_id == rid, ControlRequirement.control_id == "HR-02")).one()
    assert (c.status, c.updated_by) == ("VERIFIED", "amara.okafor")


async def test_a_failed_verification_keeps_the_rationale_typed_first(demo):
    """The verify dialog opens on the rationale: typed text is never lost, and fail without one is refused."""
    db, ids = demo
    rid = ids["Board-game robot for children"]
    _new_hr02_evidence(db, rid, "TODO: fill in\n")
    app = EthicsReviewApp(db, "amara.okafor")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_queue(pilot)
        app.post_message(OpenReview(rid))
        await settle(pilot)
        await pilot.press("v")
        await settle(pilot)
        modal = app.screen
        assert isinstance(modal, VerifyControlModal) and app.focused is modal.query_one("#rationale")
        await pilot.press("shift+tab", "down", "enter")  # the verdict: fail, no rationale yet
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is modal and "rationale" in str(modal.query_one("#problem").render()).lower()
        modal.query_one("#rationale").focus()
        await pilot.press(*"The evidence is an empty template")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ReviewWorkspace)
    with db.reading() as s:
        c = s.exec(select(ControlRequirement).where(ControlRequirement.review_id == rid, ControlRequirement.control_id == "HR-02")).one()
    assert (c.status, c.rationale) == ("REJECTED", "The evidence is an empty template")


async def test_override_grade_with_rationale(demo):
    db, ids = demo
    rid = ids["Text-to-image for games"]  # MEDIUM
    app = EthicsReviewApp(db, "wei.chen")
    async with app.run_test(size=SIZE) as pilot:
        await _open_from_queue(pilot, "Text-to-image", rid)
        await pilot.press("g")
        await settle(pilot)
        assert isinstance(app.screen, OverrideGradeModal)
        await pilot.press(*"Likeness of real people in game art")  # the rationale has the focus: nothing typed is lost
        await pilot.press("shift+tab", "enter", "down", "down", "down", "enter")  # the grade select: blank, LOW, MEDIUM, HIGH
        await settle(pilot)
        assert app.screen.query_one("#grade").value == "HIGH"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ReviewWorkspace)
        assert app.screen.detail.review["grade"] == "HIGH"
    assert _review(db, rid).grade == "HIGH"
    with db.reading() as s:
        last = s.exec(select(Assessment).where(Assessment.review_id == rid).order_by(Assessment.id.desc())).first()
    assert (last.kind, last.grade, last.created_by, last.rationale) == ("override", "HIGH", "wei.chen", "Likeness of real people in game art")


async def test_disabled_action_shows_reason(demo):
    db, ids = demo
    rid = ids["City video analytics"]  # lucas.martin declared a conflict on it
    app = EthicsReviewApp(db, "lucas.martin")
    async with app.run_test(size=SIZE) as pilot:
        await _open_from_queue(pilot, "City video", rid)
        ws = app.screen
        button = ws.query_one("#act-approve")
        assert button.disabled
        reason = ws.perms.why_not("approve")
        assert "conflict" in reason.lower() or "recused" in reason.lower()
        assert str(button.tooltip) == reason
        assert reason in str(ws.query_one("#why-not").render())
        await pilot.press("p")  # the key does not open the modal: it explains
        await settle(pilot)
        assert isinstance(app.screen, ReviewWorkspace)
        assert any(reason in n.message for n in app._notifications)
    assert _decisions(db, rid) == []


async def test_conflict_when_someone_decided_first(demo):
    db, ids = demo
    rid = ids["City video analytics"]
    app = EthicsReviewApp(db, "amara.okafor")
    async with app.run_test(size=SIZE) as pilot:
        await _open_from_queue(pilot, "City video", rid)
        await pilot.press("x")  # reject
        await settle(pilot)
        assert isinstance(app.screen, DecideModal)
        await pilot.press(*"Covert tracking of passers-by")
        # Meanwhile the chair decides through the service.
        reviews.decide(db, rid, "request-changes", actor="wei.chen", rationale="Need a DPIA first")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ConflictModal)
        assert "changed since you opened it" in str(app.screen.query_one("#error-message").render())
        await pilot.press("enter")
        await settle(pilot)
        ws = app.screen
        assert isinstance(ws, ReviewWorkspace)
        assert ws.detail.review["status"] == "CHANGES_REQUESTED"  # the view was refreshed
    assert [(d.action, d.actor) for d in _decisions(db, rid)] == [("request-changes", "wei.chen")]


async def test_refused_use_case_shows_error_modal(demo):
    db, ids = demo
    rid = ids["City video analytics"]
    app = EthicsReviewApp(db, "amara.okafor")
    async with app.run_test(size=SIZE) as pilot:
        await _open_from_queue(pilot, "City video", rid)
        # A use case that refuses (no evidence to verify) reaches the one error handler as a modal.
        ws = app.screen
        ws._run("verify", VerifyRequest("PRV-01", "pass", ""), version=ws.perms.version)
        await settle(pilot)
        assert isinstance(app.screen, ErrorModal) and not isinstance(app.screen, ConflictModal)
        assert "no evidence yet" in str(app.screen.query_one("#error-message").render())


async def test_command_palette_runs_workspace_action(demo):
    db, ids = demo
    rid = ids["City video analytics"]
    app = EthicsReviewApp(db, "amara.okafor")
    async with app.run_test(size=SIZE) as pilot:
        await _open_from_queue(pilot, "City video", rid)
        await pilot.press("ctrl+p")
        await settle(pilot)
        await pilot.press(*"Approve")
        await pilot.pause(0.3)
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, DecideModal) and app.screen.chosen == "approve"
    assert show_review(db, rid).review["status"] == "IN_REVIEW"


async def test_chair_assigns_a_review_to_a_member(demo):
    db, ids = demo
    rid = ids["Customer-service copilot"]  # INITIATION/SUBMITTED, unassigned
    app = EthicsReviewApp(db, "wei.chen")
    async with app.run_test(size=SIZE) as pilot:
        ws = await _open_from_queue(pilot, "copilot", rid)
        assert not ws.query_one("#act-assign").disabled
        await pilot.press("t")
        await settle(pilot)
        modal = app.screen
        assert isinstance(modal, AssignModal)
        await pilot.press("ctrl+s")  # nobody chosen: refused in the modal
        await settle(pilot)
        assert isinstance(app.screen, AssignModal) and _review(db, rid).assignee is None
        await pilot.press("enter", "down", "enter")  # the first eligible member
        await settle(pilot)
        chosen = modal.query_one("#assignee").value
        assert isinstance(chosen, str)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ReviewWorkspace)
    r = _review(db, rid)
    assert (r.assignee, r.status) == (chosen, "IN_REVIEW")


async def test_reviewer_cannot_assign_others_and_chair_actions_stay_quiet(demo):
    db, ids = demo
    rid = ids["Customer-service copilot"]
    app = EthicsReviewApp(db, "priya.nair")  # a reviewer
    async with app.run_test(size=SIZE) as pilot:
        ws = await _open_from_queue(pilot, "copilot", rid)
        assert ws.query_one("#act-assign").disabled and "chair" in ws.perms.why_not("assign")
        assert "Assign to…" not in str(ws.query_one("#why-not").render())  # chair-only refusals are not listed
        await pilot.press("t")
        await settle(pilot)
        assert isinstance(app.screen, ReviewWorkspace)


async def test_chair_waives_suspends_and_resumes(demo):
    db, ids = demo
    rid = ids["Board-game robot for children"]  # DEVELOPMENT/DRAFT with open controls
    app = EthicsReviewApp(db, "wei.chen")
    async with app.run_test(size=SIZE) as pilot:
        ws = await _open_from_queue(pilot, "Board-game", rid)
        target = next(c.control_id for c in ws.detail.controls if c.status in ("REQUIRED", "EVIDENCE_SUBMITTED", "REJECTED"))
        ws.query_one("#ws-controls").move_cursor(row=[c.control_id for c in ws.detail.controls].index(target))
        await pilot.press("w")
        await settle(pilot)
        assert isinstance(app.screen, WaiveControlModal) and app.screen.query_one("#control").value == target
        await pilot.press(*"too short", "enter")  # a waiver needs a sentence
        await settle(pilot)
        assert isinstance(app.screen, WaiveControlModal)
        await pilot.press(*" - the robot has no camera at all", "enter")
        await settle(pilot)
        assert isinstance(app.screen, ReviewWorkspace)
        await pilot.press("s", *"Supplier recall under investigation", "enter")
        await settle(pilot)
        assert _review(db, rid).gate == "SUSPENDED"
        assert app.screen.perms.allowed("resume") and not app.screen.perms.allowed("suspend")
        await pilot.press("u", *"Recall cleared", "enter")
        await settle(pilot)
        assert isinstance(app.screen, ReviewWorkspace)
    with db.reading() as s:
        c = s.exec(select(ControlRequirement).where(ControlRequirement.review_id == rid, ControlRequirement.control_id == target)).one()
    assert (c.status, c.updated_by) == ("WAIVED", "wei.chen") and "no camera" in c.rationale
    assert (_review(db, rid).gate, _review(db, rid).status) == ("DEVELOPMENT", "DRAFT")


async def test_chair_advances_an_approved_review(demo):
    db, ids = demo
    rid = ids["Customer-service copilot"]  # LOW: one approval
    reviews.assign(db, rid, "amara.okafor", actor="wei.chen")
    reviews.decide(db, rid, "approve", actor="amara.okafor", rationale="Escalation path is documented")
    assert (_review(db, rid).gate, _review(db, rid).status) == ("INITIATION", "APPROVED")
    app = EthicsReviewApp(db, "wei.chen")
    async with app.run_test(size=SIZE) as pilot:
        await _open_from_queue(pilot, "copilot", rid)
        await pilot.press("n")
        await settle(pilot)
        assert isinstance(app.screen, StandingModal)
        await pilot.press("enter")  # no rationale needed to advance
        await settle(pilot)
        assert isinstance(app.screen, ReviewWorkspace)
    assert (_review(db, rid).gate, _review(db, rid).status) == ("DEVELOPMENT", "DRAFT")
