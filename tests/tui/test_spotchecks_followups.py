"""Pilot-driven tests of the spot-check labelling and follow-up screens and of the gate step
that follows a TUI decision: keys in, database effects out (read back through the services)."""

from __future__ import annotations

from review.services import content_audit, content_labels, content_report, followups
from review.services.queries import show_review
from tests.tui.conftest import FIXED_NOW, release_ready, settle
from tui.app import EthicsReviewApp
from tui.messages import OpenReview
from tui.modals import DecideModal
from tui.modals.category_picker import CATEGORY_KEYS, CategoryPickerModal
from tui.modals.record_visit import RecordVisitModal
from tui.screens.followups import FollowupsScreen
from review.services.content_audit import pack_categories
from tui.screens.spotchecks import SpotChecksScreen
from tui.screens.workspace import ReviewWorkspace

SIZE = (150, 45)


def _labels(db, run_id: int, reviewer: str) -> dict[int, tuple]:
    """reviewer's labels as (verdict, category, severity, round) by item, read through the service."""
    items = content_audit.sample_items(db, run_id, reviewer, blind=True)
    return {i.seq: (i.my_label.verdict, i.my_label.category, i.my_label.severity, i.my_label.round) for i in items if i.my_label}


def _text(screen, selector: str) -> str:
    return str(screen.query_one(selector).render())


async def _open_run(pilot) -> SpotChecksScreen:
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, SpotChecksScreen) and screen.view == "runs" and screen.run_table.row_count == 1
    await pilot.press("enter")
    await settle(pilot)
    assert screen.view == "label" and screen.state is not None and screen.state.index == 0
    return screen


async def test_label_pass_then_violation_with_category_and_severity(audit_demo):
    db, _, run_id = audit_demo
    app = EthicsReviewApp(db, "amara.okafor", start="spot-checks")
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_run(pilot)
        assert len(screen.state.items) == 12 and screen.state.current.seq == 1
        await pilot.press("y")  # pass, then on to the next item
        await settle(pilot)
        assert _labels(db, run_id, "amara.okafor") == {1: ("pass", None, None, 1)}
        assert screen.state.current.seq == 2
        await pilot.press("v")
        await settle(pilot)
        picker = app.screen
        assert isinstance(picker, CategoryPickerModal)
        codes = [c for c, _, _ in pack_categories("default")]
        await pilot.press("6", CATEGORY_KEYS[codes.index("weapons")])  # severity first, then the category's letter
        await settle(pilot)
        assert app.screen is screen
        assert _labels(db, run_id, "amara.okafor")[2] == ("violation", "weapons", 6, 1)
        assert screen.state.current.seq == 2  # a violation stays put: its severity can still be changed
        await pilot.press("2")
        await settle(pilot)
        assert _labels(db, run_id, "amara.okafor")[2] == ("violation", "weapons", 2, 1)
        assert "violation  weapons  severity 2" in _text(screen, "#sc-labels")
        v = content_report.verdict(db, run_id)
        assert (v.labelled, v.passes, v.violations) == (2, 1, 1)
        progress = _text(screen, "#sc-progress")
        assert "labelled 2/12" in progress and f"{v.rate:.1%}" in progress and f"Wilson {v.lower:.1%}-{v.upper:.1%}" in progress
        await pilot.press("j", "j", "k")  # move: 2 -> 3 -> 4 -> 3
        assert screen.state.current.seq == 3
        await pilot.press("u")  # only the items without my label
        await settle(pilot)
        assert [i.seq for i in screen.state.items] == list(range(3, 13))
        assert screen.state.current.seq == 3  # the position is kept across the reload
        await pilot.press("escape")
        await settle(pilot)
        assert screen.view == "runs"
        assert "2/12" in str(screen.run_table.get_row(str(run_id))[6])


async def test_second_reviewer_is_blind_to_the_first_label(audit_demo):
    db, _, run_id = audit_demo
    content_labels.label_item(db, run_id, 1, "amara.okafor", "violation", category="self_harm", severity=6)
    content_labels.label_item(db, run_id, 2, "amara.okafor", "pass")
    app = EthicsReviewApp(db, "lucas.martin", start="spot-checks")
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_run(pilot)
        assert screen.second and screen.blind  # someone labelled first: a blind second review
        assert any("blind second review" in n.message for n in app._notifications)
        item = screen.state.current
        assert item.seq == 1 and item.other_labels == [] and item.stratum is None
        labels = _text(screen, "#sc-labels")
        assert "amara" not in labels and "self_harm" not in labels and "hidden (blind review)" in labels
        await pilot.press("b")  # refused: a second review stays blind
        await settle(pilot)
        assert screen.blind and screen.state.current.other_labels == []
        await pilot.press("y")  # lucas: pass, where amara said violation
        await settle(pilot)
        assert _labels(db, run_id, "lucas.martin") == {1: ("pass", None, None, 2)}
        v = content_report.verdict(db, run_id)
        assert (v.pairs, v.disagreements, v.labelled, v.passes) == (1, 1, 2, 1)  # the verdict counts amara's first round
        # Second review off, blind off: now the first reviewer's label shows.
        await pilot.press("s")
        await settle(pilot)
        await pilot.press("b")
        await settle(pilot)
        await pilot.press("k")
        assert not screen.blind and screen.state.current.seq == 1
        assert [(lab.reviewer, lab.verdict) for lab in screen.state.current.other_labels] == [("amara.okafor", "violation")]
        assert "amara.okafor: violation  self_harm  severity 6" in _text(screen, "#sc-labels")
    assert _labels(db, run_id, "amara.okafor")[1] == ("violation", "self_harm", 6, 1)  # untouched


async def test_a_third_reviewer_adjudicates_a_disagreement_and_the_verdict_comes_in(demo, tmp_path):
    from tests.tui.conftest import make_audit_run

    db, _ids = demo
    run_id = make_audit_run(db, tmp_path / "double.jsonl", double_review=True)
    content_labels.label_items(db, run_id, "amara.okafor", [{"item": i, "verdict": "pass"} for i in range(1, 13)])
    content_labels.label_items(db, run_id, "lucas.martin", [{"item": 1, "verdict": "violation", "category": "self_harm"}]
                               + [{"item": i, "verdict": "pass"} for i in range(2, 13)])
    assert content_report.verdict(db, run_id).awaiting_adjudication == [1]
    app = EthicsReviewApp(db, "priya.nair", start="spot-checks")
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_run(pilot)
        assert "1 wait for a third reviewer (a): 1" in _text(screen, "#sc-progress")
        await pilot.press("a")
        await settle(pilot)
        assert screen.adjudicate and not screen.second and not screen.blind  # the adjudicator sees both labels
        assert any("items waiting: 1" in n.message for n in app._notifications)
        assert screen.state.current.seq == 1
        assert {lab.reviewer for lab in screen.state.current.other_labels} == {"amara.okafor", "lucas.martin"}
        await pilot.press("y")
        await settle(pilot)
    assert _labels(db, run_id, "priya.nair") == {1: ("pass", None, None, 3)}
    v = content_report.verdict(db, run_id)
    assert (v.final, v.adjudicated, v.passes) == ("pass", 1, 12)


async def test_labelling_refusal_reaches_the_error_modal(audit_demo):
    """The product team cannot label its own product's audit (duty + segregation of duties): a modal says why."""
    from review.demo.catalog import TEAM_SUBMITTERS
    from tui.modals import ErrorModal

    db, _, run_id = audit_demo
    app = EthicsReviewApp(db, TEAM_SUBMITTERS["cx-platform"], start="spot-checks")
    async with app.run_test(size=SIZE) as pilot:
        await _open_run(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert isinstance(app.screen, ErrorModal)
    assert content_report.verdict(db, run_id).labelled == 0


def _row_ids(screen: FollowupsScreen) -> set[int]:
    return {int(k.value) for k in screen.table.rows}


async def test_followups_filters_detail_visit_and_open_review(frozen_demo):
    db, ids = frozen_demo
    expected = {w: {c["id"] for c in followups.list_checks(db, which=w, now=FIXED_NOW)} for w in ("due", "overdue", "triggered", None)}
    assert all(expected.values()) and expected["overdue"] < expected["due"]
    app = EthicsReviewApp(db, "priya.nair", clock=lambda: FIXED_NOW, start="follow-ups")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, FollowupsScreen) and screen.which == "due"
        assert _row_ids(screen) == expected["due"]
        for key, which in (("o", "overdue"), ("t", "triggered"), ("a", None)):
            await pilot.press(key)
            await settle(pilot)
            assert _row_ids(screen) == expected[which], key
        await pilot.press("t")
        await settle(pilot)
        (triggered,) = expected["triggered"]
        assert screen.detail["id"] == triggered
        detail = _text(screen, "#fu-detail")
        shown = followups.show_check(db, triggered)
        recorded = [v for v in shown["visits"] if v["status"] == "RECORDED"]
        assert recorded and recorded[0]["customer"] in detail and recorded[0]["notes"] in detail
        assert "new risk" in detail and "adverse: reopens at INITIATION" in detail
        assert "Content re-audit  pending" in detail
        await pilot.press("enter")  # open the check's review
        await settle(pilot)
        ws = app.screen
        assert isinstance(ws, ReviewWorkspace) and ws.review_id == shown["review_id"]
        await pilot.press("escape")
        await settle(pilot)
        # Record a clean visit on the overdue (OPEN) check: n, n, y answers; finding derived as none.
        await pilot.press("o")
        await settle(pilot)
        (overdue,) = expected["overdue"]
        assert screen.detail["id"] == overdue
        await pilot.press("v")
        await settle(pilot)
        modal = app.screen
        assert isinstance(modal, RecordVisitModal)
        customer = modal.customer
        await pilot.press("n", "n", "y")
        await settle(pilot)
        assert "no finding" in _text(modal, "#derived-finding")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is screen
        assert "1/3" in str(screen.table.get_row(str(overdue))[6])
    visit = next(v for v in followups.show_check(db, overdue)["visits"] if v["customer"] == customer)
    assert (visit["status"], visit["answers"], visit["finding"], visit["recorded_by"]) == (
        "RECORDED", {"q1": "no", "q2": "no", "q3": "yes"}, "none", "priya.nair")


async def _approve_in_tui(db, rid: int, actor: str, rationale: str) -> list[str]:
    app = EthicsReviewApp(db, actor, start="queue")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.post_message(OpenReview(rid))
        await settle(pilot)
        assert isinstance(app.screen, ReviewWorkspace)
        await pilot.press("p")
        await settle(pilot)
        assert isinstance(app.screen, DecideModal) and app.screen.chosen == "approve"
        await pilot.press(*rationale, "ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ReviewWorkspace)
        return [n.message for n in app._notifications]


async def test_release_approval_in_the_tui_releases_the_product(demo):
    db, ids = demo
    rid = ids["Board-game robot for children"]  # HIGH: release needs two approvers including the chair
    release_ready(db, rid)
    assert not [c for c in followups.list_checks(db) if c["review_id"] == rid]
    notes = await _approve_in_tui(db, rid, "priya.nair", "Release checks complete")
    r = show_review(db, rid).review
    assert (r["gate"], r["status"]) == ("RELEASE", "IN_REVIEW")  # quorum not reached: no step runs
    assert not any("release step" in n for n in notes)
    notes = await _approve_in_tui(db, rid, "wei.chen", "Release approved (chair)")
    r = show_review(db, rid).review
    assert (r["gate"], r["status"]) == ("MONITORING", "APPROVED")
    checks = [c for c in followups.list_checks(db) if c["review_id"] == rid]
    assert [(c["status"], c["sequence"]) for c in checks] == [("SCHEDULED", 1)]
    assert any(n.startswith(f"release step: review {rid} released; follow-up check {checks[0]['id']}") for n in notes)


async def test_dashboard_shows_audit_pass_rates(audit_demo):
    db, _, run_id = audit_demo
    content_labels.label_item(db, run_id, 1, "amara.okafor", "pass")
    content_labels.label_item(db, run_id, 2, "amara.okafor", "violation", category="self_harm")
    v = content_report.verdict(db, run_id)
    app = EthicsReviewApp(db, "wei.chen", start="dashboard")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert not app.screen.query("#dash-audit")  # the placeholder card is gone once the panel is registered
        card = _text(app.screen, "#dash-audit-pass-rates")
    assert f"#{run_id} Customer-service copilot" in card and "2/12 labelled" in card
    assert f"{v.rate:.1%} (95% Wilson {v.lower:.1%}-{v.upper:.1%})" in card and "FAIL?" in card
