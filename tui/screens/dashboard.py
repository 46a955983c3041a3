"""The committee dashboard: grade distribution, gate funnel, overdue reviews, registered panels, and the
process card (the six dimensions of ``ethics-review report process`` over the last 90 days).

Audit pass rates are not here yet: the content-audit work adds them as a panel with
``tui.registry.register_dashboard_panel`` (see the placeholder card).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid
from textual.message import Message
from textual.widgets import Footer, Static

from tui.registry import dashboard_panels
from tui.screens.base import CommitteeScreen
from review.errors import ReviewError
from tui.widgets.dashboard import charts, process_panel
from tui.widgets.nav import NavBar

BAR_WIDTH = 36


class Card(Static):
    def __init__(self, title: str, **kwargs: Any) -> None:
        super().__init__("loading…", **kwargs)
        self.border_title = title


class DashboardScreen(CommitteeScreen):
    BINDINGS = [Binding("ctrl+r,r", "reload", "Reload")]

    @dataclass
    class Loaded(Message):
        grades: list[dict[str, Any]]  # per grade as each pack names it (``level_distribution``)
        funnel: dict[str, dict[str, int]]
        overdue: dict[str, Any]
        extra: dict[str, Any]
        process: dict[str, Any] | str

    def compose(self) -> ComposeResult:
        yield NavBar("dashboard", id="nav")
        with Grid(id="dash-grid"):
            yield Card("Grade distribution", id="dash-grades", classes="card")
            yield Card("Gate funnel (reviews by gate and status)", id="dash-funnel", classes="card")
            yield Card("Overdue against the committee SLA", id="dash-overdue", classes="card")
            for p in dashboard_panels():
                yield Card(p.title, id=f"dash-{p.id}", classes="card")
            if not any(p.id == "audit-pass-rates" for p in dashboard_panels()):
                yield Card("Audit pass rates", id="dash-audit", classes="card placeholder")
            yield Card("The review process, last 90 days (ethics-review report process)", id="dash-process", classes="card wide")
        yield Footer()

    def on_mount(self) -> None:
        for card in self.query("#dash-audit").results(Card):
            card.update("Content-audit pass rates will appear here when the audit work lands\n"
                        "(it registers an 'audit-pass-rates' panel in tui.registry).")
        self.reload()

    def reload(self) -> None:
        self._load()

    def on_screen_resume(self) -> None:
        self.reload()

    @work(thread=True, exclusive=True, group="dashboard", exit_on_error=False)
    def _load(self) -> None:
        c = self.app.client
        extra = {p.id: p.load(c) for p in dashboard_panels()}
        now = self.app.now()
        try:
            process: dict[str, Any] | str = c.process_report(now=now).data
        except ReviewError as exc:  # e.g. a person outside the committee: the card says why
            process = exc.message
        self.post_message(self.Loaded(c.level_distribution(), c.gate_funnel(), c.overdue_counts(now=now), extra, process))

    @on(Loaded)
    def _loaded(self, event: Loaded) -> None:
        self.data = event
        self.query_one("#dash-grades", Card).update(charts.grade_distribution(event.grades, BAR_WIDTH))
        self.query_one("#dash-funnel", Card).update(charts.gate_funnel(event.funnel, BAR_WIDTH))
        self.query_one("#dash-overdue", Card).update(charts.overdue(event.overdue, BAR_WIDTH))
        for p in dashboard_panels():
            self.query_one(f"#dash-{p.id}", Card).update(p.render(event.extra.get(p.id), BAR_WIDTH))
        card = self.query_one("#dash-process", Card)
        card.update(process_panel.render(event.process, max(40, card.content_size.width or self.size.width - 8)))

    def action_reload(self) -> None:
        self.reload()
