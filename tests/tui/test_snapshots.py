"""Snapshots of the main screens (fixed size, frozen clock and timestamps). Update with --snapshot-update."""

from __future__ import annotations

from tests.tui.conftest import FIXED_NOW, settle, wait_for_queue
from tui.app import EthicsReviewApp
from tui.messages import OpenReview

SIZE = (150, 45)


def _app(db, actor="wei.chen", start="queue"):
    return EthicsReviewApp(db, actor, clock=lambda: FIXED_NOW, start=start)


class TestScreens:
    def test_queue(self, frozen_demo, snap_compare):
        db, _ = frozen_demo
        assert snap_compare(_app(db), terminal_size=SIZE, run_before=wait_for_queue)

    def test_workspace(self, frozen_demo, snap_compare):
        db, ids = frozen_demo

        async def open_review(pilot):
            await wait_for_queue(pilot)
            pilot.app.post_message(OpenReview(ids["Medical LLM assistant"]))
            await settle(pilot)

        assert snap_compare(_app(db, "amara.okafor"), terminal_size=SIZE, run_before=open_review)

    def test_decide_modal(self, frozen_demo, snap_compare):
        db, ids = frozen_demo

        async def decide(pilot):
            await wait_for_queue(pilot)
            pilot.app.post_message(OpenReview(ids["SME credit scoring"]))
            await settle(pilot)
            await pilot.press("c")
            await settle(pilot)

        assert snap_compare(_app(db, "lucas.martin"), terminal_size=SIZE, run_before=decide)

    def test_dashboard(self, frozen_demo, snap_compare):
        db, _ = frozen_demo
        assert snap_compare(_app(db, start="dashboard"), terminal_size=SIZE, run_before=settle)
