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


def _cell_text(cell) -> str:
    return cell.plain if hasattr(cell, "plain") else str(cell)


async def test_the_queue_and_the_dashboard_name_the_level(sqlite_db, capsys) -> None:
    """The queue (wide and compact) and the dashboard show a canada-aia UNACCEPTABLE as Level IV, in UNACCEPTABLE's
    colour; the default pack's reviews keep their grades' names."""
    from tests.integration.followup_helpers import submit
    from tui.format import GRADE_STYLE
    from tui.screens.dashboard import DashboardScreen

    seed_people(sqlite_db)
    assert main(["--database", sqlite_db.url, "--as", "admin", "policy", "template", "canada-aia"]) == 0
    doc = _very_high_impact(yaml.safe_load(capsys.readouterr().out))
    doc["product"].update(name="Benefit eligibility triage", owner_team=TEAM)
    rid = reviews.submit(sqlite_db, doc, actor=TEAM_SUBMITTERS[TEAM]).id
    other = submit(sqlite_db, "Remote-sensing platform")
    for size, want in (((180, 50), "Level IV"), ((80, 30), "Level IV")):
        app = EthicsReviewApp(sqlite_db, "wei.chen")
        async with app.run_test(size=size) as pilot:
            await wait_for_queue(pilot)
            table = app.screen.table
            grade = table.get_cell(str(rid), "grade")
            assert _cell_text(grade).strip() == want and grade.style == GRADE_STYLE["UNACCEPTABLE"], (size, grade)
            plain_grade = _cell_text(table.get_cell(str(other), "grade")).strip()
            assert plain_grade in ("LOW", "MEDIUM", "MED", "HIGH", "UNACC", "UNACCEPTABLE"), plain_grade
    app = EthicsReviewApp(sqlite_db, "wei.chen", start="dashboard")
    async with app.run_test(size=(150, 45)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, DashboardScreen)
        assert {"grade": "UNACCEPTABLE", "label": "Level IV (very high impact)", "count": 1} in app.screen.data.grades
        shown = _rendered(app)
        assert "Level IV (very high impact)" in shown


async def test_the_workspace_shows_the_frameworks_met_by_verified_evidence(sqlite_db, capsys, tmp_path) -> None:
    """The same data as ``show``: per tracked framework, the obligations the verified controls meet (here a
    canada-aia human-in-the-loop map, verified once, meets the EU AI Act's Art. 14 and ISO 42001's A.9.2)."""
    from review.services import controls

    seed_people(sqlite_db)
    assert main(["--database", sqlite_db.url, "--as", "admin", "policy", "template", "canada-aia"]) == 0
    doc = _very_high_impact(yaml.safe_load(capsys.readouterr().out))
    doc["product"].update(name="Benefit eligibility triage", owner_team=TEAM)
    submitter = TEAM_SUBMITTERS[TEAM]
    rid = reviews.submit(sqlite_db, doc, actor=submitter).id
    reviews.assign(sqlite_db, rid, "priya.nair", actor="wei.chen")

    async def workspace() -> str:
        app = EthicsReviewApp(sqlite_db, "wei.chen")
        async with app.run_test(size=(200, 80)) as pilot:
            await wait_for_queue(pilot)
            app.screen.table.move_cursor(row=app.screen.table.get_row_index(str(rid)))
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, ReviewWorkspace)
            return _rendered(app)

    shown = await workspace()
    assert "Frameworks: obligations met by verified evidence" in shown
    assert "eu-ai-act" in shown and "0/20" in shown and "none yet" in shown  # nothing verified yet
    reviews.decide(sqlite_db, rid, "approve", actor="priya.nair", rationale="obligations listed")
    reviews.decide(sqlite_db, rid, "approve", actor="wei.chen", rationale="second signature")
    reviews.advance(sqlite_db, rid, actor=submitter)
    f = tmp_path / "intervention-points.md"
    f.write_text("Decision map: a caseworker confirms every refusal")
    controls.add_evidence(sqlite_db, rid, "AIA-HUMAN-IN-LOOP", f, actor=submitter)
    controls.verify(sqlite_db, rid, "AIA-HUMAN-IN-LOOP", "pass", actor="priya.nair", rationale="checked")
    shown = await workspace()
    met_line = next(line for line in shown.splitlines() if "ART14-HO" in line)
    assert "eu-ai-act" in met_line and "2/20" in met_line and "by AIA-HUMAN-IN-LOOP" in met_line
    assert "ART14-HR" in shown and "A.9.2" in shown and "MANAGE-2" in shown
