"""The review queue table: a DataTable that is filled page by page (the screen fetches pages)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

from tui.format import due_text, grade_badge, plain, status_text

# (column key == services.queries.SORTABLE key, header, width)
COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("id", "#", 7),
    ("product", "Product", 34),
    ("gate", "Gate", 12),
    ("status", "Status", 18),
    ("grade", "Grade", 14),
    ("due", "Due (SLA)", 24),
    ("assignee", "Assignee", 14),
)
SORT_KEYS = tuple(c[0] for c in COLUMNS)


class ReviewTable(DataTable):
    """Rows keyed by review id. j/k move, enter opens (``RowSelected``), g/G top/bottom of what is loaded."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("g", "scroll_top", "Top", show=False),
        Binding("G", "scroll_bottom", "Bottom", show=False),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)

    def on_mount(self) -> None:
        self.set_columns("id", True)

    def set_columns(self, sort: str, descending: bool) -> None:
        self.clear(columns=True)
        for key, label, width in COLUMNS:
            arrow = (" ▼" if descending else " ▲") if key == sort else ""
            self.add_column(label + arrow, key=key, width=width)

    def show_rows(self, rows: Iterable[Any], now: datetime, *, append: bool) -> None:
        if not append:
            self.clear()
        for r in rows:
            self.add_row(*self.cells(r, now), key=str(r.id))

    @staticmethod
    def cells(r: Any, now: datetime) -> list[Any]:
        return [
            Text(str(r.id), style="dim", justify="right"),
            plain(r.product, overflow="ellipsis", no_wrap=True),
            r.gate.lower(),
            status_text(r.status),
            grade_badge(r.grade),
            due_text(r.due_at, r.status, now),
            plain(r.assignee) if r.assignee else Text("-", style="dim"),
        ]

    @property
    def current_review_id(self) -> int | None:
        if self.row_count == 0:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        return int(key.value) if key.value is not None else None
