"""The review queue table: a DataTable that is filled page by page (the screen fetches pages)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

from tui.format import due_text, grade_badge, label_cell, plain, short_label, status_text

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
#: Below this many columns the table is compact: grade and status stay, the assignee goes, the rest is abbreviated.
WIDE = 140
#: The compact layout (product takes what is left); at 80 columns the product keeps about 28 characters.
COMPACT: tuple[tuple[str, str, int], ...] = (
    ("id", "#", 5),
    ("product", "Product", 0),
    ("gate", "Gate", 4),
    ("status", "Status", 12),
    ("grade", "Grade", 10),
    ("due", "Due", 9),
)
_GATE_SHORT = {"INITIATION": "init", "DEVELOPMENT": "dev", "RELEASE": "rel", "MONITORING": "mon", "SUSPENDED": "susp", "WITHDRAWN": "wdrn"}
_GRADE_SHORT = {"UNACCEPTABLE": "UNACC", "MEDIUM": "MED"}


def layout(width: int) -> tuple[tuple[str, str, int], ...]:
    """The columns for a table ``width`` cells wide (each column also takes 2 cells of padding)."""
    if width >= WIDE:
        return COLUMNS
    fixed = sum(w for _k, _l, w in COMPACT) + 2 * len(COMPACT) + 2  # + the vertical scrollbar
    return tuple((k, label, w or max(12, width - fixed)) for k, label, w in COMPACT)


class ReviewTable(DataTable):
    """Rows keyed by review id. j/k move, enter opens (``RowSelected``), g/G top/bottom of what is loaded.
    Narrower than ``WIDE`` it switches to the compact columns, so grade and status stay in view at 80 columns."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("g", "scroll_top", "Top", show=False),
        Binding("G", "scroll_bottom", "Bottom", show=False),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self._sort, self._descending = "id", True
        self._columns: tuple[tuple[str, str, int], ...] = COLUMNS
        self._rows: list[Any] = []
        self._now: datetime | None = None

    def on_mount(self) -> None:
        self.set_columns("id", True)

    def on_resize(self) -> None:
        if layout(self.size.width) != self._columns:
            keep = self.cursor_row
            self.set_columns(self._sort, self._descending)
            if self._rows and self._now is not None:
                rows, self._rows = self._rows, []
                self.show_rows(rows, self._now, append=False)
                self.move_cursor(row=min(keep, self.row_count - 1))

    @property
    def compact(self) -> bool:
        return self._columns is not COLUMNS

    def set_columns(self, sort: str, descending: bool) -> None:
        self._sort, self._descending = sort, descending
        self._columns = layout(self.size.width) if self.size.width else COLUMNS
        self.clear(columns=True)
        for key, label, width in self._columns:
            arrow = (" ▼" if descending else " ▲") if key == sort else ""
            self.add_column(label + arrow, key=key, width=width)

    def show_rows(self, rows: Iterable[Any], now: datetime, *, append: bool) -> None:
        if not append:
            self.clear()
            self._rows = []
        self._now = now
        for r in rows:
            self._rows.append(r)
            self.add_row(*self.cells(r, now, compact=self.compact), key=str(r.id))

    @staticmethod
    def cells(r: Any, now: datetime, *, compact: bool = False) -> list[Any]:
        if compact:
            due, status = due_text(r.due_at, r.status, now), status_text(r.status)
            return [
                Text(str(r.id), style="dim", justify="right"),
                plain(r.product, overflow="ellipsis", no_wrap=True),
                _GATE_SHORT.get(r.gate, r.gate.lower()[:4]),
                Text(status.plain[:12], style=status.style),
                _compact_grade(r),
                Text(_short_due(due.plain), style=due.style),
            ]
        return [
            Text(str(r.id), style="dim", justify="right"),
            plain(r.product, overflow="ellipsis", no_wrap=True),
            r.gate.lower(),
            status_text(r.status),
            grade_badge(r.grade, short_label(_label(r))),
            due_text(r.due_at, r.status, now),
            plain(r.assignee) if r.assignee else Text("-", style="dim"),
        ]

    @property
    def current_review_id(self) -> int | None:
        if self.row_count == 0:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        return int(key.value) if key.value is not None else None


def _short_due(text: str) -> str:
    """``2026-12-05 overdue 3d`` -> ``3d late``; ``... in 4d`` -> ``in 4d``; ``... today`` -> ``today``; a date -> ``12-05``."""
    parts = text.split(" ")
    if len(parts) == 1:
        return text[5:] if len(text) == 10 else text
    rest = " ".join(parts[1:])
    if rest.startswith("overdue"):
        return f"{rest.split(' ')[1]} late" if " " in rest else "late"
    return rest


def _label(r: Any) -> str | None:
    """The row's grade as its pack names it (rows from an older server carry no label: the grade)."""
    return getattr(r, "grade_label", None) or r.grade


def _compact_grade(r: Any) -> Text:
    """The grade in the compact column: the default names abbreviated, a pack's label without its gloss."""
    if not r.grade:
        return Text(" - ", style=grade_badge(None).style)
    label = _label(r)
    if label != r.grade:
        return label_cell(r.grade, label, 10)
    return Text(f" {_GRADE_SHORT.get(r.grade, r.grade)} ", style=grade_badge(r.grade).style)
