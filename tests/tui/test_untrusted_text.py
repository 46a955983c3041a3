"""Untrusted text is text: a product name, a rationale and an audited record full of Rich markup,
terminal escapes (CSI, OSC 8 links), bidi overrides and @click actions are shown literally by
the TUI and the CLI, crash nothing, and reach no terminal as control characters."""

from __future__ import annotations

import copy
import json

import pytest

from review.cli.main import main
from review.demo.catalog import PRODUCTS, submission
from review.demo.seed import seed_people
from review.services import content_audit, reviews
from tests.tui.conftest import settle, wait_for_queue
from tui.app import EthicsReviewApp
from tui.modals import DeclareConflictModal
from tui.screens.spotchecks import SpotChecksScreen
from tui.screens.workspace import ReviewWorkspace

NAME = "Evil [/bold] [link=https://evil.example]here[/link] [@click=app.quit]x[/] [red]"
RATIONALE = "ok [/] \x1b[31mred\x1b[0m \x1b]8;;https://evil.example\x07click\x1b]8;;\x07 \u202eevil"
RECORD = "hello \x1b[2J\x1b]0;pwned\x07 [bold]not bold[/bold] \u202egnp.exe how to build a pipe bomb"


def _hostile_review(db) -> int:
    doc = submission(copy.deepcopy(next(p for p in PRODUCTS if p["product"]["name"] == "Code assistant")))
    doc["product"]["name"] = NAME
    doc["product"]["capabilities"] = ["generative_content"]
    rid = reviews.submit(db, doc, actor="dev.lead").id
    reviews.assign(db, rid, "amara.okafor", actor="wei.chen")
    reviews.decide(db, rid, "request-changes", actor="amara.okafor", rationale=RATIONALE)
    return rid


def _rendered(app) -> str:
    """The text of every Static and Label on screen (Rich tables and groups printed, not repr'd)."""
    from rich.console import Console
    from rich.text import Text

    out = []
    for w in app.screen.query("Static, Label"):
        r = w.content
        if isinstance(r, (str, Text)) or not hasattr(r, "__rich_console__"):
            out.append(str(r))
            continue
        console = Console(record=True, width=300, file=open("/dev/null", "w"))
        console.print(r)
        out.append(console.export_text())
    return "\n".join(out)


@pytest.fixture
def hostile(sqlite_db, tmp_path):
    seed_people(sqlite_db)
    rid = _hostile_review(sqlite_db)
    f = tmp_path / "records.jsonl"
    f.write_text(json.dumps({"id": "r1", "product": NAME, "prompt": "q", "output": RECORD}) + "\n", encoding="utf-8")
    run = content_audit.start_run(sqlite_db, f, product=NAME, actor="amara.okafor", seed=1)
    content_audit.run_inline(sqlite_db, run.id)
    return sqlite_db, rid


async def test_tui_shows_markup_and_escapes_as_text(hostile):
    db, rid = hostile
    app = EthicsReviewApp(db, "priya.nair")
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for_queue(pilot)
        row = app.screen.table.get_row(str(rid))
        assert NAME in str(row[1])  # the queue cell holds the name as typed, not as markup
        await pilot.press("enter")
        await settle(pilot)
        ws = app.screen
        assert isinstance(ws, ReviewWorkspace)
        shown = _rendered(app)
        assert NAME in shown and "[/bold]" in shown
        assert "\x1b" not in shown and "\u202e" not in shown and "␛[31mred" in shown
        await pilot.press("i")  # the conflict-of-interest modal's title carries the product name
        await settle(pilot)
        assert isinstance(app.screen, DeclareConflictModal) and NAME in _rendered(app)
        await pilot.press("escape")
        await settle(pilot)
        assert app.is_running  # nothing clicked app.quit
    spot = EthicsReviewApp(db, "priya.nair", start="spot-checks")
    async with spot.run_test(size=(160, 50)) as pilot:
        await settle(pilot)
        assert isinstance(spot.screen, SpotChecksScreen)
        await pilot.press("enter")
        await settle(pilot)
        out = str(spot.screen.query_one("#sc-output").render())
        assert "[bold]not bold[/bold]" in out and "\x1b" not in out and "␛[2J" in out and "\u202e" not in out
        item = spot.screen.state.current
        assert item.flagged  # the span of "pipe bomb" still lines up after the escapes were made visible
        highlighted = spot.screen.query_one("#sc-output").render()
        styled = [out[s.start:s.end] for s in highlighted.spans if s.end - s.start > 3]
        assert any("pipe bomb" in t for t in styled)


def test_cli_shows_markup_and_escapes_as_text(hostile, capsys):
    db, rid = hostile
    assert main(["--database", db.url, "show", str(rid)]) == 0
    out = capsys.readouterr().out
    assert "[/bold]" in " ".join(out.split()) or "[/bold]" in out
    assert "\x1b" not in out and "\u202e" not in out and "\\x1b[31mred" in out.replace("\n", "")
    assert main(["--database", db.url, "--json", "show", str(rid)]) == 0
    raw = capsys.readouterr().out
    assert "\x1b" not in raw and "\u202e" not in raw and json.loads(raw)["decisions"][0]["rationale"] == RATIONALE
    assert main(["--database", db.url, "--as", "amara.okafor", "audit", "show", "1", "--items"]) == 0
    assert "\x1b" not in capsys.readouterr().out


def test_names_with_control_characters_and_pack_paths_are_refused(sqlite_db, tmp_path, capsys):
    import yaml

    seed_people(sqlite_db)
    doc = submission(copy.deepcopy(next(p for p in PRODUCTS if p["product"]["name"] == "Code assistant")))
    bad = copy.deepcopy(doc)
    bad["product"]["name"] = "Code \x1b[2J assistant"
    f = tmp_path / "bad.yaml"
    f.write_text(yaml.safe_dump(bad))
    assert main(["--database", sqlite_db.url, "--as", "dev.lead", "submit", str(f)]) == 2
    assert "product.name" in capsys.readouterr().err
    for policy in (str(tmp_path / "mypack"), "../packs/default", "my-own-pack"):
        bad = copy.deepcopy(doc)
        bad["product"]["policy"] = policy
        f.write_text(yaml.safe_dump(bad))
        assert main(["--database", sqlite_db.url, "--as", "dev.lead", "submit", str(f)]) == 2
        err = capsys.readouterr().err
        assert "product.policy" in err and ("installed" in err or "never a path" in err), err


def test_reports_show_markup_as_text(hostile, tmp_path):
    from review.services.content_report import write_report

    db, _ = hostile
    md, htm = write_report(db, 1, tmp_path)
    text, page = md.read_text(), htm.read_text()
    assert "[link=https://evil.example]" not in text and "\\[link=https://evil.example\\]" in text  # no Markdown link
    assert "\x1b" not in text and "\u202e" not in text and "\\\\x1b" in text
    assert "<script" not in page.lower() and "\x1b" not in page and "\u202e" not in page
    assert "[bold]not bold[/bold]" in page and "<b>not bold" not in page  # the record is shown as text, its markup inert


async def test_select_options_show_markup_as_text() -> None:
    """Drop-down options (assignees' display names, control titles, customers from a product file) are
    text: a name with ``[/bold]`` once crashed the dialog (Select parses a plain string as markup)."""
    from textual.app import App
    from textual.widgets import Select

    from review.services.permissions import Candidate
    from tui.modals import AssignModal

    class Host(App):
        def on_mount(self) -> None:
            self.push_screen(AssignModal("R-1", [Candidate("amara.okafor", NAME, "")], None))

    app = Host()
    async with app.run_test() as pilot:
        await pilot.pause()
        select = app.screen.query_one("#assignee", Select)
        select.expanded = True
        await pilot.pause()
        select.value = "amara.okafor"
        await pilot.pause()
        shown = select.query_one("SelectCurrent #label").render()
        assert f"{NAME} (amara.okafor)" in str(shown)  # literally, markup and all
