"""Queue paging/filters/sort at scale, the dashboard numbers, formatting, and the tui/web commands."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import io

import pytest

from rich.console import Console

from review.bench.core import bulk_reviews
from review.demo.seed import seed_people
from tests.tui.conftest import settle, wait_for_queue
from tui.app import EthicsReviewApp
from tui.format import due_text
from tui.widgets.dashboard import charts, process_panel
from tui.screens.queue import FIRST_PAGE, PAGE


async def test_queue_pages_lazily_filters_and_sorts(sqlite_db):
    seed_people(sqlite_db)
    bulk_reviews(sqlite_db, 1000)
    app = EthicsReviewApp(sqlite_db, "amara.okafor")
    async with app.run_test(size=(150, 40)) as pilot:
        await wait_for_queue(pilot)
        queue = app.screen
        assert queue.table.row_count == FIRST_PAGE  # a screenful, not the whole table
        for _ in range(500):  # the total is counted once the screen has been quiet for a moment (COUNT_DELAY)
            if queue.total is not None:
                break
            await pilot.pause(0.02)
        await settle(pilot)
        assert "of 1,000 reviews" in str(queue.query_one("#queue-status").render())
        assert queue.table.current_review_id == 1000  # newest first
        await pilot.press("G")  # cursor to the last loaded row: the next page is fetched
        await settle(pilot)
        assert queue.table.row_count == FIRST_PAGE + PAGE
        await pilot.press("G")  # and the next
        await settle(pilot)
        assert queue.table.row_count == FIRST_PAGE + 2 * PAGE
        await pilot.press("r")  # reverse the sort: ascending ids
        await settle(pilot)
        assert queue.table.current_review_id == 1
        await pilot.press("m")  # mine: only reviews assigned to amara.okafor
        await settle(pilot)
        ids = [int(k.value) for k in queue.table.rows]
        assert ids and all(str(queue.table.get_row(str(i))[6]) == "amara.okafor" for i in ids[:20])
        await pilot.press("x", "slash")
        await settle(pilot)
        for ch in "0000042":
            await pilot.press(ch)
            await settle(pilot)
        assert [int(k.value) for k in queue.table.rows] == [43]  # "Bench product 0000042" is review 43


async def test_dashboard_counts(demo):
    db, _ids = demo
    app = EthicsReviewApp(db, "wei.chen", start="dashboard")
    async with app.run_test(size=(150, 45)) as pilot:
        await settle(pilot)
        data = app.screen.data
        assert data.grades == [{"grade": "UNACCEPTABLE", "label": "UNACCEPTABLE", "count": 1}, {"grade": "HIGH", "label": "HIGH", "count": 8},
                               {"grade": "MEDIUM", "label": "MEDIUM", "count": 1}, {"grade": "LOW", "label": "LOW", "count": 3}]
        assert sum(sum(v.values()) for v in data.funnel.values()) == 13
        console = Console(width=100, record=True, file=io.StringIO())
        console.print(charts.grade_distribution(data.grades, 30))
        console.print(charts.gate_funnel(data.funnel, 30))
        text = console.export_text()
        assert any(line.split()[:2] == ["high", "8"] and "█" * 30 in line and "62%" in line for line in text.splitlines())
        assert "initiation" in text and "monitoring" in text
        # The content-audit panel is registered: its card replaces the placeholder.
        assert "Audit pass rates" == app.screen.query_one("#dash-audit-pass-rates").border_title
        assert not app.screen.query("#dash-audit")
        # The process card: the same figures as `report process`, six dimensions, the cycle time per gate as bars.
        dims = {d["key"]: d for d in data.process["dimensions"]}
        assert len(dims) == 6 and dims["mechanism_guarantee"]["figures"]["gate cycles decided"] == 11
        console = Console(width=140, record=True, file=io.StringIO())
        console.print(process_panel.render(data.process, 140))
        text = console.export_text()
        for title in ("Theoretical research", "Organisational support", "Mechanism guarantee", "Technical support",
                      "External communication", "Continuous tracking"):
            assert title in text
        import re

        assert re.search(r"gate cycles decided +11\b", text)
        assert "init" in text and "100.0%" in text


def test_due_text_is_relative_to_the_given_clock():
    now = datetime(2030, 3, 14, 9, 0, tzinfo=timezone.utc)
    assert due_text(now + timedelta(days=3), "SUBMITTED", now).plain == "2030-03-17 in 3d"
    assert due_text(now - timedelta(days=2), "IN_REVIEW", now).plain == "2030-03-12 overdue 2d"
    assert due_text(now - timedelta(days=2), "APPROVED", now).plain == "2030-03-12"  # closed: no SLA


def test_cli_registers_web_and_sessions_get_their_own_identity(sqlite_db, monkeypatch):
    """`web` refuses --as; a token signs a person in, and their TUI process gets their identity only."""
    from review.cli import tui_cmds
    from review.cli.main import Ctx, build_parser
    from review.errors import NotAuthenticated
    from review.services.tokens import create_token

    seed_people(sqlite_db)
    token = create_token(sqlite_db, "priya.nair", actor="admin").token
    args = build_parser().parse_args(["--database", sqlite_db.url, "web", "--host", "127.0.0.1", "--port", "8123"])
    assert args.func is tui_cmds.cmd_web and (args.host, args.port) == ("127.0.0.1", 8123)
    authenticate = tui_cmds.web_authenticator(Ctx(args=args, json=False))
    user, env = authenticate(token)
    assert user == "priya.nair"
    import os

    assert env == {"ETHICS_REVIEW_DATABASE_URL": sqlite_db.url, "ETHICS_REVIEW_USER": "priya.nair", "ETHICS_REVIEW_DIRECT": "1",
                   "ETHICS_REVIEW_HOME": os.environ["ETHICS_REVIEW_HOME"]}  # the server's home: its evidence store
    with pytest.raises(NotAuthenticated):
        authenticate("ert_1_" + "y" * 43)
    from review.cli.main import main

    assert main(["--as", "wei.chen", "--database", sqlite_db.url, "web"]) == 2  # everyone signs in as themselves


def test_tui_refuses_unknown_user(sqlite_db):
    from review.cli.main import main

    seed_people(sqlite_db)
    assert main(["--as", "nobody", "--database", sqlite_db.url, "tui"]) == 3  # NotFound, before any terminal takeover


async def test_shortcuts_act_after_a_filter_drop_down(sqlite_db):
    """Choosing in a filter drop-down hands the keys back to the queue: `x` clears, nothing is typed into the search."""
    seed_people(sqlite_db)
    bulk_reviews(sqlite_db, 200)
    app = EthicsReviewApp(sqlite_db, "amara.okafor")
    async with app.run_test(size=(150, 40)) as pilot:
        await wait_for_queue(pilot)
        queue = app.screen
        queue.query_one("#gate").focus()
        await pilot.press("enter", "down", "enter")  # the first gate
        await settle(pilot)
        assert queue.filter_bar.filters.gate is not None
        await pilot.press("x")
        await settle(pilot)
        assert queue.filter_bar.filters.gate is None and queue.query_one("#search").value == ""
        await pilot.press("s")  # and the sort key cycles
        await settle(pilot)
        assert queue.query_state.sort != "id" and queue.query_one("#search").value == ""


async def test_at_80_columns_the_queue_keeps_grade_and_status_in_view(demo):
    db, ids = demo
    app = EthicsReviewApp(db, "wei.chen")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_queue(pilot)
        table = app.screen.table
        keys = [str(c.key.value) for c in table.columns.values()]
        assert keys[:1] == ["id"] and {"status", "grade", "due"} <= set(keys) and "assignee" not in keys
        assert sum(c.get_render_width(table) for c in table.columns.values()) <= 80
        row = table.get_row(str(ids["City video analytics"]))
        assert row[keys.index("grade")].plain.strip() in ("LOW", "MED", "HIGH", "UNACC")
        await pilot.resize_terminal(150, 40)  # wide again: every column, in full
        await settle(pilot)
        assert "assignee" in [str(c.key.value) for c in table.columns.values()]
        assert table.get_row(str(ids["City video analytics"]))[4].plain.strip() in ("LOW", "MEDIUM", "HIGH", "UNACCEPTABLE")


async def test_at_80_columns_every_action_button_is_on_screen(demo):
    from tui.messages import OpenReview
    from tui.widgets.review.actions import ACTION_KEYS

    db, ids = demo
    app = EthicsReviewApp(db, "wei.chen")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_queue(pilot)
        app.post_message(OpenReview(ids["Medical LLM assistant"]))
        await settle(pilot)
        for action in ACTION_KEYS:
            button = app.screen.query_one(f"#act-{action}")
            assert button.region.right <= 80 and button.region.width > 0, (action, button.region)
        assert str(app.screen.query_one("#act-approve").label) == "p Approve"


async def test_typing_fast_shows_only_the_last_query_and_counts_once(sqlite_db):
    """Keys arriving faster than the queries: each one cancels the previous query's page worker, only the
    last query's page is ever painted, and the total is counted once, after typing pauses."""
    from textual import events
    from textual.worker import Worker, WorkerState

    from tui.messages import QueuePainted

    seed_people(sqlite_db)
    bulk_reviews(sqlite_db, 3000)
    started: list[Worker] = []
    painted: list[int] = []

    def hook(message) -> None:
        if isinstance(message, Worker.StateChanged) and message.state is WorkerState.PENDING:
            started.append(message.worker)
        elif isinstance(message, QueuePainted):
            painted.append(message.generation)

    app = EthicsReviewApp(sqlite_db, "amara.okafor")
    async with app.run_test(size=(150, 40), message_hook=hook) as pilot:
        await wait_for_queue(pilot)
        queue = app.screen
        await pilot.press("slash")
        await pilot.pause(0.5)
        await settle(pilot)
        started.clear()
        painted.clear()
        before = queue.generation
        for ch in "0000042":  # all seven keys queued at once (Pilot.press waits for the app after each key)
            app.post_message(events.Key(ch, ch))
        await settle(pilot)
        await pilot.pause(0.5)  # past COUNT_DELAY: the total is counted now
        await settle(pilot)
        assert queue.generation == before + 7
        assert [int(k.value) for k in queue.table.rows] == [43]
        assert painted == [queue.generation], "no stale page was painted"
        assert "1 of 1 reviews" in str(queue.query_one("#queue-status").render())
        pages = [w for w in started if w.group == "queue-page"]
        assert len(pages) == 7 and pages[-1].state is WorkerState.SUCCESS
        assert all(w.is_cancelled for w in pages[:-1]), "each key cancels the page worker of the key before"
        counts = [w for w in started if w.group == "queue-count"]
        assert len(counts) == 1 and counts[0].state is WorkerState.SUCCESS, "one count for the last query, not one per key"


async def test_a_broad_search_shows_a_capped_count(sqlite_db, monkeypatch):
    """Past COUNT_CAP matches the status says "N+" (at least N), not a number it did not count."""
    import tui.screens.queue as queue_mod

    monkeypatch.setattr(queue_mod, "COUNT_CAP", 500)
    seed_people(sqlite_db)
    bulk_reviews(sqlite_db, 1000)
    app = EthicsReviewApp(sqlite_db, "amara.okafor")
    async with app.run_test(size=(150, 40)) as pilot:
        await wait_for_queue(pilot)
        await pilot.pause(0.5)
        await settle(pilot)
        assert "of 500+ reviews" in str(app.screen.query_one("#queue-status").render())
        await pilot.press("slash", *"00000")
        await settle(pilot)
        await pilot.pause(0.5)
        await settle(pilot)
        assert "of 100 reviews" in str(app.screen.query_one("#queue-status").render())
