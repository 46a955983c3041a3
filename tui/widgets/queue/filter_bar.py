"""The queue's filter bar: incremental search, gate/status/grade/assignee selects, mine and overdue toggles."""

from __future__ import annotations

from dataclasses import dataclass

from textual import events, on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Checkbox, Input, Select

from tui.format import GATE_ORDER, GRADE_ORDER, plain

STATUSES = ("SUBMITTED", "IN_REVIEW", "CHANGES_REQUESTED", "APPROVED", "REJECTED", "DRAFT")


@dataclass(frozen=True)
class Filters:
    search: str = ""
    gate: str | None = None
    status: str | None = None
    grade: str | None = None
    assignee: str | None = None
    mine: bool = False
    overdue: bool = False


class SearchInput(Input):
    """The search box. Textual blurs a widget when a Hide event reaches it; the Hide from the
    first layout can arrive after the user pressed "/" and started typing, which sent the
    next keystrokes to the table (and "o"/"m" toggled filters). Ignore a Hide while visible."""

    def _on_hide(self, event: events.Hide) -> None:
        if self.display and self.screen.is_current:
            event.prevent_default()  # Textual calls every class's _on_hide up the MRO unless prevented


def _opts(values: tuple[str, ...]) -> list[tuple[str, str]]:
    return [(v.replace("_", " ").lower(), v) for v in values]


class FilterBar(Horizontal):
    """Posts ``FilterBar.Changed`` with the full ``Filters`` whenever any control changes."""

    @dataclass
    class Changed(Message):
        filters: Filters
        typed: bool = False  # from the search box (keep typing there); else a drop-down or a toggle

    def compose(self) -> ComposeResult:
        yield SearchInput(placeholder="/ search product", id="search")
        yield Select(_opts(GATE_ORDER), prompt="gate", id="gate")
        yield Select(_opts(STATUSES), prompt="status", id="status")
        yield Select([(g.lower(), g) for g in GRADE_ORDER], prompt="grade", id="grade")
        yield Select([], prompt="assignee", id="assignee")
        yield Checkbox("mine", id="mine")
        yield Checkbox("overdue", id="overdue")

    def set_people(self, usernames: list[str]) -> None:
        self.query_one("#assignee", Select).set_options([(plain(u), u) for u in usernames])

    @property
    def filters(self) -> Filters:
        def sel(name: str) -> str | None:
            v = self.query_one(f"#{name}", Select).value
            return v if isinstance(v, str) else None

        return Filters(
            search=self.query_one("#search", Input).value.strip(),
            gate=sel("gate"), status=sel("status"), grade=sel("grade"), assignee=sel("assignee"),
            mine=self.query_one("#mine", Checkbox).value, overdue=self.query_one("#overdue", Checkbox).value,
        )

    def toggle(self, name: str) -> None:
        box = self.query_one(f"#{name}", Checkbox)
        box.value = not box.value

    def clear(self) -> None:
        with self.prevent(Input.Changed, Select.Changed, Checkbox.Changed):
            self.query_one("#search", Input).value = ""
            for name in ("gate", "status", "grade", "assignee"):
                self.query_one(f"#{name}", Select).clear()
            self.query_one("#mine", Checkbox).value = False
            self.query_one("#overdue", Checkbox).value = False
        self.post_message(self.Changed(self.filters))

    @on(Input.Changed, "#search")
    @on(Select.Changed)
    @on(Checkbox.Changed)
    def _changed(self, event: Message) -> None:
        event.stop()
        self.post_message(self.Changed(self.filters, typed=isinstance(event, Input.Changed)))
