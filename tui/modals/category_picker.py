"""Pick a violation's category with one key (a, b, c, ...), optionally its severity first (0-7)."""

from __future__ import annotations

import string
from dataclasses import dataclass

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from tui.format import plain
from tui.widgets.spotcheck.render import severity_style

#: The keys categories get, in the pack's order (digits are severities, so letters only).
CATEGORY_KEYS = string.ascii_lowercase


@dataclass(frozen=True)
class CategoryChoice:
    category: str
    severity: int | None  # None: the category's default severity


class CategoryPickerModal(ModalScreen[CategoryChoice | None]):
    """``categories``: (code, title, default severity) of the run's pack, in pack order.

    A letter picks the category and closes; a digit 0-7 before it sets the severity
    (otherwise the category's default applies); escape cancels.
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, item_label: str, categories: list[tuple[str, str, int]], *, severity: int | None = None) -> None:
        super().__init__()
        self.item_label = item_label
        self.categories = categories[: len(CATEGORY_KEYS)]
        self.severity = severity

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog picker"):
            yield Label(plain(f"Violation on {self.item_label}: pick the category"), classes="dialog-title")
            yield Static(self._listing(), id="picker-list")
            yield Static("", id="picker-severity", classes="notes")

    def on_mount(self) -> None:
        self._show_severity()

    def _listing(self) -> Text:
        t = Text()
        for key, (code, title, default) in zip(CATEGORY_KEYS, self.categories, strict=False):
            t.append(f" {key} ", style="bold reverse")
            t.append(f" {code:<22}", style="bold")
            t.append(f" {title[:38]:<38} ")
            t.append(f" sev {default} ", style=severity_style(default))
            t.append("\n")
        t.rstrip()
        return t

    def _show_severity(self) -> None:
        text = (f"Severity {self.severity} (press another digit 0-7 to change)" if self.severity is not None
                else "Severity: the category's default (press 0-7 first to set it)")
        self.query_one("#picker-severity", Static).update(text + " · escape cancels")

    def on_key(self, event: events.Key) -> None:
        ch = event.character or ""
        if ch and ch in "01234567":
            event.stop()
            self.severity = int(ch)
            self._show_severity()
            return
        if len(ch) == 1 and ch in CATEGORY_KEYS[: len(self.categories)]:
            event.stop()
            code = self.categories[CATEGORY_KEYS.index(ch)][0]
            self.dismiss(CategoryChoice(code, self.severity))

    def action_cancel(self) -> None:
        self.dismiss(None)
