"""Post-release follow-up checks (key 4): due, overdue, triggered or all; a check's visits and answers.

The list is ``followups.list_checks`` (filtered by tab); the highlighted check's detail
(``show_check``: visits, the questionnaire with the adverse answers marked, findings,
notes, the content re-audit request) loads in a worker beside it. ``enter`` opens the
check's review in the workspace; ``v`` records a visit (answers y/n, finding derived).
Dates are judged against the app's clock (``app.now()``), like the queue's SLA text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Footer, Static, Tab, Tabs

from review.domain.rules import visit_refusal
from tui import messages
from tui.format import GRADE_STYLE, label_cell, plain
from tui.modals.record_visit import RecordVisitModal, VisitRequest
from tui.registry import ScreenEntry, register_screen
from tui.screens.base import CommitteeScreen
from tui.widgets.followups import render
from tui.widgets.nav import NavBar

register_screen(ScreenEntry("follow-ups", "4", "Follow-ups", "tui.screens.followups:FollowupsScreen",
                            "post-release follow-up checks"))

#: tab id -> (title, ``list_checks(which=...)``)
FILTERS: dict[str, tuple[str, str | None]] = {
    "due": ("Due", "due"), "overdue": ("Overdue", "overdue"), "triggered": ("Triggered", "triggered"), "all": ("All", None),
}
#: The kind, sequence and finding of a check are in its detail (the list stays narrow enough for the detail beside it).
COLUMNS = (("check", "check", 5), ("product", "product", 20), ("review", "review", 6), ("grade", "grade", 10),
           ("status", "status", 10), ("due", "due", 20), ("visits", "visits", 6))


class FollowupsScreen(CommitteeScreen):
    BINDINGS = [
        Binding("d", "filter('due')", "Due"),
        Binding("o", "filter('overdue')", "Overdue"),
        Binding("t", "filter('triggered')", "Triggered"),
        Binding("a", "filter('all')", "All"),
        Binding("v", "record_visit", "Record visit"),
        Binding("ctrl+r,r", "reload", "Reload"),
    ]

    @dataclass
    class Listed(Message):
        which: str
        rows: list[dict[str, Any]]

    @dataclass
    class DetailLoaded(Message):
        check: dict[str, Any]

    @dataclass
    class VisitRecorded(Message):
        review_id: int
        message: str

    def __init__(self) -> None:
        super().__init__()
        self.which = "due"
        self.rows: list[dict[str, Any]] = []
        self.detail: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        yield NavBar("follow-ups", id="nav")
        yield Tabs(*(Tab(f"{title} ({key[0]})", id=f"tab-{key}") for key, (title, _) in FILTERS.items()), id="fu-tabs")
        with Horizontal(id="fu-body"):
            yield DataTable(id="fu-table", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(id="fu-detail-scroll"):
                yield Static("Highlight a check to see its visits.", id="fu-detail")
        yield Static("", id="fu-status", classes="status-line")
        yield Footer()

    AUTO_FOCUS = "#fu-table"

    @property
    def table(self) -> DataTable:
        return self.query_one("#fu-table", DataTable)

    def on_mount(self) -> None:
        for key, label, width in COLUMNS:
            self.table.add_column(label, key=key, width=width)
        self.query_one("#fu-tabs", Tabs).active = f"tab-{self.which}"
        self.reload()

    def on_screen_resume(self) -> None:
        if self.is_mounted:
            self.reload()

    # ---- loading ---------------------------------------------------------------------------
    def reload(self) -> None:
        self._list(self.which)

    @work(thread=True, exclusive=True, group="followups-list", exit_on_error=False)
    def _list(self, which: str) -> None:
        rows = self.app.client.list_checks(which=FILTERS[which][1], now=self.app.now())
        self.post_message(self.Listed(which, rows))

    @on(Listed)
    def _listed(self, event: Listed) -> None:
        if event.which != self.which:
            return
        self.rows = event.rows
        table, now = self.table, self.app.now()
        keep = self.current_check_id
        table.clear()
        for r in event.rows:
            label = r.get("grade_label") or r["grade"]
            grade = (Text(f" {r['grade']} ", style=GRADE_STYLE.get(r["grade"], "reverse")) if label == r["grade"]
                     else label_cell(r["grade"], label, 10))  # the grade as the review's pack names it
            table.add_row(str(r["id"]), plain(r["product"], overflow="ellipsis", no_wrap=True), str(r["review_id"]), grade,
                          render.status_text(r["status"]), render.due_cell(r, now), f"{r['visits_recorded']}/{r['visits']}",
                          key=str(r["id"]))
        ids = [r["id"] for r in event.rows]
        if keep in ids:
            table.move_cursor(row=ids.index(keep))
        if not ids:
            self.detail = None
            self.query_one("#fu-detail", Static).update(Text(f"No {FILTERS[self.which][0].lower()} follow-up checks.", style="dim"))
        elif table.cursor_row == 0:
            self._load_detail(ids[0])  # the cursor did not move, so no RowHighlighted comes
        title = FILTERS[self.which][0]
        self.query_one("#fu-status", Static).update(
            f" {len(ids)} {title.lower()} check(s) as of {now:%Y-%m-%d %H:%M} · enter: open the review · v: record a visit")

    @property
    def current_check_id(self) -> int | None:
        table = self.table
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return int(key) if key is not None else None

    @on(DataTable.RowHighlighted, "#fu-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is not None:
            self._load_detail(int(event.row_key.value))

    @work(thread=True, exclusive=True, group="followups-detail", exit_on_error=False)
    def _load_detail(self, check_id: int) -> None:
        self.post_message(self.DetailLoaded(self.app.client.show_check(check_id)))

    @on(DetailLoaded)
    def _detail_loaded(self, event: DetailLoaded) -> None:
        if self.current_check_id not in (None, event.check["id"]):
            return  # the cursor moved on meanwhile
        self.detail = event.check
        self.query_one("#fu-detail", Static).update(render.check_detail(event.check, self.app.now()))

    # ---- actions -----------------------------------------------------------------------------
    def action_filter(self, which: str) -> None:
        self.query_one("#fu-tabs", Tabs).active = f"tab-{which}"  # TabActivated does the rest

    @on(Tabs.TabActivated, "#fu-tabs")
    def _tab(self, event: Tabs.TabActivated) -> None:
        which = (event.tab.id or "tab-due").removeprefix("tab-")
        if which != self.which:
            self.which = which
            self.table.clear()
            self.reload()
        self.table.focus()

    @on(DataTable.RowSelected, "#fu-table")
    def _open(self, event: DataTable.RowSelected) -> None:
        row = next((r for r in self.rows if str(r["id"]) == event.row_key.value), None)
        if row is not None:
            self.app.post_message(messages.OpenReview(row["review_id"]))

    def action_record_visit(self) -> None:
        d = self.detail
        if d is None:
            self.app.notify("highlight a check first", severity="warning")
            return
        why = visit_refusal(d["id"], d["status"], sum(1 for v in d["visits"] if v["status"] == "PENDING"))
        if why is not None:
            self.app.notify(why, title="No visit to record", severity="warning", markup=False)
            return
        check_id, review_id = d["id"], d["review_id"]
        self.app.push_screen(RecordVisitModal(d), lambda r: r and self._record(check_id, review_id, r))

    @work(thread=True, group="followups-record", exit_on_error=False)
    def _record(self, check_id: int, review_id: int, request: VisitRequest) -> None:
        out = self.app.client.record_visit(check_id, request.customer, request.doc, source="visit form")
        self.post_message(self.VisitRecorded(review_id, out.message))

    @on(VisitRecorded)
    def _recorded(self, event: VisitRecorded) -> None:
        self.app.notify(event.message, title="Visit recorded", markup=False)
        self.app.post_message(messages.ReviewChanged(event.review_id, event.message))
        self.reload()
        if self.detail is not None:
            self._load_detail(self.detail["id"])

    def action_reload(self) -> None:
        self.reload()

    def palette_commands(self) -> list[tuple[str, str, object]]:
        out: list[tuple[str, str, object]] = [
            (f"Follow-ups: {title.lower()} checks", f"show {title.lower()} checks ({key[0]})", lambda k=key: self.action_filter(k))
            for key, (title, _) in FILTERS.items()
        ]
        d = self.detail
        if d is not None:
            out.insert(0, (f"Open review {d['review_id']} ({d['product']})", "the highlighted check's review (enter)",
                           lambda rid=d["review_id"]: self.app.post_message(messages.OpenReview(rid))))
            out.insert(1, (f"Record a visit of check {d['id']}", "answers y/n, finding derived (v)", self.action_record_visit))
        out.append(("Follow-ups: reload", "re-read the checks (ctrl+r)", self.reload))
        return out
