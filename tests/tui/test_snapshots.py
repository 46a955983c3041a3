"""Snapshots of the main screens (fixed size, frozen clock and timestamps). Update with --snapshot-update."""

from __future__ import annotations

from textual.widgets import Input

from tests.tui.conftest import FIXED_NOW, settle, wait_for_queue
from tui.app import EthicsReviewApp
from tui.messages import OpenReview

SIZE = (150, 45)
SMALL = (80, 24)


def _app(db, actor="wei.chen", start="queue"):
    return EthicsReviewApp(db, actor, clock=lambda: FIXED_NOW, start=start)


def _opener(review_id):
    """``run_before`` that opens one review from the queue."""

    async def open_review(pilot):
        await wait_for_queue(pilot)
        pilot.app.post_message(OpenReview(review_id))
        await settle(pilot)

    return open_review


class TestScreens:
    def test_queue(self, frozen_demo, snap_compare):
        db, _ = frozen_demo
        assert snap_compare(_app(db), terminal_size=SIZE, run_before=wait_for_queue)

    def test_workspace(self, frozen_demo, snap_compare):
        db, ids = frozen_demo
        assert snap_compare(_app(db, "amara.okafor"), terminal_size=SIZE, run_before=_opener(ids["Medical LLM assistant"]))

    def test_decide_modal(self, frozen_demo, snap_compare):
        db, ids = frozen_demo

        async def decide(pilot):
            await wait_for_queue(pilot)
            pilot.app.post_message(OpenReview(ids["SME credit scoring"]))
            await settle(pilot)
            await pilot.press("c")
            await settle(pilot)
            # the focused input's cursor blinks every 0.5 s: whether it shows depended on how fast the machine was
            for box in pilot.app.screen.query(Input):
                box.cursor_blink = False  # (steady: shown while focused)
            await pilot.pause()

        assert snap_compare(_app(db, "lucas.martin"), terminal_size=SIZE, run_before=decide)

    def test_queue_at_80x24(self, frozen_demo, snap_compare):
        """A default terminal: the compact queue keeps grade, status and due in view."""
        db, _ = frozen_demo
        assert snap_compare(_app(db), terminal_size=SMALL, run_before=wait_for_queue)

    def test_workspace_at_80x24(self, frozen_demo, snap_compare):
        db, ids = frozen_demo
        assert snap_compare(_app(db, "amara.okafor"), terminal_size=SMALL, run_before=_opener(ids["Medical LLM assistant"]))

    def test_dashboard(self, frozen_demo, snap_compare):
        db, _ = frozen_demo
        assert snap_compare(_app(db, start="dashboard"), terminal_size=SIZE, run_before=settle)


class TestSpotChecksAndFollowups:
    def test_spot_check_labelling(self, frozen_audit_demo, snap_compare):
        """A flagged item (spans highlighted by severity) with your label, progress and the Wilson interval."""
        from review.services import content_labels

        db, _, run_id = frozen_audit_demo
        content_labels.label_item(db, run_id, 1, "amara.okafor", "violation", category="self_harm", severity=6)
        content_labels.label_item(db, run_id, 2, "amara.okafor", "pass")

        async def open_run(pilot):
            await settle(pilot)
            await pilot.press("enter")
            await settle(pilot)

        assert snap_compare(_app(db, "amara.okafor", start="spot-checks"), terminal_size=SIZE, run_before=open_run)

    def test_category_picker(self, frozen_audit_demo, snap_compare):
        db, _, _ = frozen_audit_demo

        async def pick(pilot):
            await settle(pilot)
            await pilot.press("enter")
            await settle(pilot)
            await pilot.press("v", "5")
            await settle(pilot)

        assert snap_compare(_app(db, "amara.okafor", start="spot-checks"), terminal_size=SIZE, run_before=pick)

    def test_followups_triggered(self, frozen_demo, snap_compare):
        """The triggered check: visits, the adverse answers marked, notes, the content re-audit request."""
        db, _ = frozen_demo

        async def triggered(pilot):
            await settle(pilot)
            await pilot.press("t")
            await settle(pilot)

        assert snap_compare(_app(db, "wei.chen", start="follow-ups"), terminal_size=SIZE, run_before=triggered)


class TestEvaluations:
    def test_eval_runs(self, eval_demo, snap_compare):
        """The eval runs: one sampled and partly labelled (the pass rate with its interval, in progress), one not sampled."""
        from review.services import eval_spot
        from tests.tui.conftest import EVAL_PRODUCT, make_eval_run

        db, ids, run_id = eval_demo
        eval_spot.draw_sample(db, run_id, "amara.okafor")
        eval_spot.label_items(db, run_id, "amara.okafor", [{"item": i, "safety": "safe", "refusal": "complied"} for i in (1, 2, 3)])
        make_eval_run(db, ids[EVAL_PRODUCT], questions=6, model="acme-chat-2")
        assert snap_compare(_app(db, "amara.okafor", start="evaluations"), terminal_size=SIZE, run_before=settle)

    def test_eval_labelling(self, eval_demo, snap_compare):
        """A sampled answer with your label and note (blind), the 1-4 keys, progress with the Wilson interval."""
        from review.services import eval_spot

        db, _, run_id = eval_demo
        eval_spot.draw_sample(db, run_id, "amara.okafor")
        eval_spot.label_items(db, run_id, "amara.okafor", [
            {"item": 1, "safety": "safe", "refusal": "complied"},
            {"item": 2, "safety": "unsafe", "refusal": "complied", "note": "step-by-step instructions"}])

        async def open_run(pilot):
            await settle(pilot)
            await pilot.press("enter")
            await settle(pilot)
            await pilot.press("j")
            await settle(pilot)

        assert snap_compare(_app(db, "amara.okafor", start="evaluations"), terminal_size=SIZE, run_before=open_run)
