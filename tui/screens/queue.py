"""The review queue: filter, search, sort, page lazily through any number of reviews, open one.

Every database read runs in a thread worker; a newer filter cancels the workers of the
older one (exclusive groups), which stops their queries mid-way where the client can (a local
SQLite file: ``Client.interrupt_when``),
and a generation number drops any result that still comes back stale. Pages of ``PAGE`` rows
are fetched as the cursor nears the end (the first one only a screenful, ``FIRST_PAGE``, so a keystroke paints
no more rows than it shows). The total is counted once typing pauses
(``COUNT_DELAY``) and no further than ``COUNT_CAP`` rows: the status then says "10,000+".
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable, Footer, Input, Static
from textual.timer import Timer
from textual.worker import get_current_worker

from review.client.types import Page, ReviewFilter, ReviewRow
from tui import messages
from tui.screens.base import CommitteeScreen
from tui.widgets.nav import NavBar
from tui.widgets.queue import SORT_KEYS, FilterBar, Filters, ReviewTable

PAGE = 200
#: rows fetched and painted when the query changes (a keystroke): a screenful, not a page, since every row painted
#: costs the keystroke time; the rest come in pages of ``PAGE`` as the cursor moves down
FIRST_PAGE = 60
PREFETCH = 40  # fetch the next page when the cursor is this close to the last loaded row
COUNT_CAP = 10_000  # a count past this shows as "10,000+" (counting a million matches takes a second)
COUNT_DELAY = 0.3  # seconds of no typing before the total is counted


@dataclass(frozen=True)
class QueueQuery:
    filters: Filters = field(default_factory=Filters)
    sort: str = "id"
    descending: bool = True

    def review_filter(self, actor: str) -> ReviewFilter:
        f = self.filters
        return ReviewFilter(gate=f.gate, status=f.status, grade=f.grade, assignee=actor if f.mine else f.assignee,
                            overdue=f.overdue, search=f.search or None)


class QueueScreen(CommitteeScreen):
    BINDINGS = [
        Binding("slash", "search", "Search"),
        Binding("escape", "focus_table", "Table", show=False),
        Binding("m", "toggle('mine')", "Mine"),
        Binding("o", "toggle('overdue')", "Overdue"),
        Binding("s", "cycle_sort", "Sort"),
        Binding("r", "reverse_sort", "Reverse"),
        Binding("x", "clear_filters", "Clear"),
        Binding("ctrl+r", "reload", "Reload", show=False),
    ]

    @dataclass
    class PageLoaded(Message):
        generation: int
        offset: int
        rows: list[ReviewRow]
        limit: int = PAGE  # how many were asked for: fewer means the end

    @dataclass
    class TotalCounted(Message):
        generation: int
        total: int
        capped: bool = False

    def __init__(self) -> None:
        super().__init__()
        self.query_state = QueueQuery()
        self.generation = 0
        self.loading = False
        self.exhausted = False
        self.total: int | None = None
        self.total_capped = False
        self._count_timer: Timer | None = None

    # ---- layout ---------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield NavBar("queue", id="nav")
        yield FilterBar(id="filters")
        yield ReviewTable(id="queue-table")
        yield Static("", id="queue-status")
        yield Footer()

    @property
    def table(self) -> ReviewTable:
        return self.query_one(ReviewTable)

    @property
    def filter_bar(self) -> FilterBar:
        return self.query_one(FilterBar)

    AUTO_FOCUS = "#queue-table"

    def on_mount(self) -> None:
        self.reload()
        self._load_people()

    # ---- loading --------------------------------------------------------------------
    def reload(self) -> None:
        self.generation += 1
        self.loading, self.exhausted, self.total = True, False, None
        self._update_status()
        self._fetch(self.generation, self.query_state, 0, self.first_page())
        self.workers.cancel_group(self, "queue-count")
        if self._count_timer is not None:
            self._count_timer.stop()
        generation, q = self.generation, self.query_state
        self._count_timer = self.set_timer(COUNT_DELAY, lambda: self._count(generation, q))

    def _list(self, q: QueueQuery, **kw: Any) -> Page | None:
        """One list query in this thread worker; None once the worker is cancelled (a local SQLite query
        stops mid-way: whatever it raised then answers a question nobody asks any more)."""
        worker, client = get_current_worker(), self.app.client
        try:
            with client.interrupt_when(lambda: worker.is_cancelled):
                page = client.list_reviews(q.review_filter(self.app.actor), sort=q.sort, descending=q.descending, **kw)
        except Exception:
            if worker.is_cancelled:
                return None
            raise
        return None if worker.is_cancelled else page

    def first_page(self) -> int:
        """Rows fetched when the query changes: ``FIRST_PAGE``, or more on a screen taller than that."""
        return max(FIRST_PAGE, self.size.height + 10)

    @work(thread=True, exclusive=True, group="queue-page", exit_on_error=False)
    def _fetch(self, generation: int, q: QueueQuery, offset: int, limit: int) -> None:
        page = self._list(q, limit=limit, offset=offset, with_total=False)
        if page is not None:
            self.post_message(self.PageLoaded(generation, offset, page.rows, limit))

    @work(thread=True, exclusive=True, group="queue-count", exit_on_error=False)
    def _count(self, generation: int, q: QueueQuery) -> None:
        page = self._list(q, limit=1, count_cap=COUNT_CAP)
        if page is not None:
            self.post_message(self.TotalCounted(generation, page.total, page.total_capped))

    @work(thread=True, exclusive=True, group="queue-people", exit_on_error=False)
    def _load_people(self) -> None:
        names = [u.username for u in self.app.client.list_users() if {"reviewer", "chair"} & set(u.roles.split(","))]
        self.app.call_from_thread(self.filter_bar.set_people, names)

    @on(PageLoaded)
    def _page_loaded(self, event: PageLoaded) -> None:
        if event.generation != self.generation:
            return
        table = self.table
        append = event.offset > 0
        if append and event.offset != table.row_count:
            return  # a duplicate request for a page we already have
        keep = table.current_review_id if not append else None
        table.show_rows(event.rows, self.app.now(), append=append)
        if keep is not None and not append:
            try:
                table.move_cursor(row=table.get_row_index(str(keep)))
            except Exception:
                pass
        self.loading = False
        self.exhausted = len(event.rows) < event.limit
        self._update_status()
        self.app.post_message(messages.QueuePainted(table.row_count, "more" if append else "page", event.generation))

    @on(TotalCounted)
    def _total_counted(self, event: TotalCounted) -> None:
        if event.generation == self.generation:
            self.total, self.total_capped = event.total, event.capped
            self._update_status()

    @on(DataTable.RowHighlighted, "#queue-table")
    def _maybe_more(self, event: DataTable.RowHighlighted) -> None:
        table = self.table
        if not self.loading and not self.exhausted and event.cursor_row >= table.row_count - PREFETCH:
            self.loading = True
            self._fetch(self.generation, self.query_state, table.row_count, PAGE)

    def _update_status(self) -> None:
        q = self.query_state
        shown = self.table.row_count if self.is_mounted else 0
        total = "…" if self.total is None else f"{self.total:,}+" if self.total_capped else f"{self.total:,}"
        more = "  loading…" if self.loading else ""
        direction = "descending" if q.descending else "ascending"
        active = [f"{k}={v}" for k, v in vars(q.filters).items() if v not in (None, "", False)]
        self.query_one("#queue-status", Static).update(
            f" {shown:,} of {total} reviews · sort {q.sort} {direction}"
            f" · filters: {', '.join(active) if active else 'none'}{more}"
        )

    # ---- events and actions -----------------------------------------------------------
    @on(FilterBar.Changed)
    def _filters_changed(self, event: FilterBar.Changed) -> None:
        self.query_state = replace(self.query_state, filters=event.filters)
        self.reload()
        if not event.typed:  # a drop-down closed: the keys go back to the queue (`x`, `r`, `s`), not into the search box
            self.call_after_refresh(self.table.focus)

    @on(DataTable.RowSelected, "#queue-table")
    def _open(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value is not None:
            self.app.post_message(messages.OpenReview(int(event.row_key.value)))

    @on(DataTable.HeaderSelected, "#queue-table")
    def _header(self, event: DataTable.HeaderSelected) -> None:
        key = str(event.column_key.value)
        descending = not self.query_state.descending if key == self.query_state.sort else key in ("id", "grade", "updated", "created")
        self.set_sort(key, descending)

    def set_sort(self, sort: str, descending: bool) -> None:
        self.query_state = replace(self.query_state, sort=sort, descending=descending)
        self.table.set_columns(sort, descending)
        self.reload()

    def action_search(self) -> None:
        self.query_one("#search", Input).focus()

    def action_focus_table(self) -> None:
        self.table.focus()

    def action_toggle(self, name: str) -> None:
        self.filter_bar.toggle(name)

    def action_cycle_sort(self) -> None:
        i = SORT_KEYS.index(self.query_state.sort) if self.query_state.sort in SORT_KEYS else 0
        key = SORT_KEYS[(i + 1) % len(SORT_KEYS)]
        self.set_sort(key, key in ("id", "grade"))

    def action_reverse_sort(self) -> None:
        self.set_sort(self.query_state.sort, not self.query_state.descending)

    def action_clear_filters(self) -> None:
        self.filter_bar.clear()

    def action_reload(self) -> None:
        self.reload()

    @on(Input.Submitted, "#search")
    def _search_done(self) -> None:
        self.table.focus()

    def palette_commands(self) -> list[tuple[str, str, object]]:
        rid = self.table.current_review_id
        out: list[tuple[str, str, object]] = [
            ("Queue: only my reviews", "toggle the 'mine' filter (m)", lambda: self.action_toggle("mine")),
            ("Queue: only overdue reviews", "toggle the 'overdue' filter (o)", lambda: self.action_toggle("overdue")),
            ("Queue: clear filters", "reset search and filters (x)", self.action_clear_filters),
        ]
        out += [(f"Queue: sort by {k}", "sort the queue by this column", lambda k=k: self.set_sort(k, k in ("id", "grade"))) for k in SORT_KEYS]
        if rid is not None:
            out.insert(0, (f"Open review {rid}", "open the highlighted review (enter)", lambda: self.app.post_message(messages.OpenReview(rid))))
        return out
