"""The TUI shows a canada-aia review as the pack names it: Level IV, not blocked, the chair and a second signature
asked for, the free-text answers as text."""

from __future__ import annotations

import yaml

from review.cli.main import main
from review.demo.catalog import TEAM_SUBMITTERS
from review.demo.seed import seed_people
from review.services import reviews
from tests.integration.test_aia_submission import TEAM, _very_high_impact
from tests.tui.conftest import settle, wait_for_queue
from tests.tui.test_untrusted_text import _rendered
from tui.app import EthicsReviewApp
from tui.screens.workspace import ReviewWorkspace


async def test_a_level_iv_review_in_the_tui(sqlite_db, capsys) -> None:
    seed_people(sqlite_db)
    assert main(["--database", sqlite_db.url, "--as", "admin", "policy", "template", "canada-aia"]) == 0
    doc = _very_high_impact(yaml.safe_load(capsys.readouterr().out))
    doc["product"].update(name="Benefit eligibility triage", owner_team=TEAM)
    rid = reviews.submit(sqlite_db, doc, actor=TEAM_SUBMITTERS[TEAM]).id
    reviews.assign(sqlite_db, rid, "priya.nair", actor="wei.chen")
    app = EthicsReviewApp(sqlite_db, "priya.nair")
    async with app.run_test(size=(180, 60)) as pilot:
        await wait_for_queue(pilot)
        app.screen.table.move_cursor(row=app.screen.table.get_row_index(str(rid)))
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ReviewWorkspace)
        shown = _rendered(app)
        assert "UNACCEPTABLE  Level IV (very high impact)" in shown
        assert "cannot be approved" not in shown
        assert "quorum: 0 of 2 approvals; the chair must approve" in shown
        assert "\u202e" not in shown and "[bold red]not markup[/]" in shown
