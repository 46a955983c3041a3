"""Assign a review to a committee member (the chair or an admin): members who may not take it
(segregation of duties, recusal) are listed with the reason and cannot be chosen."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Select, Static

from tui.format import plain
from tui.modals.rationale import ConfirmCancel


class AssignModal(ConfirmCancel, ModalScreen):
    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "submit", "Assign", show=True)]

    def __init__(self, review_label: str, candidates: list, current: str | None) -> None:
        super().__init__()
        self.review_label, self.candidates, self.current = review_label, candidates, current

    def compose(self) -> ComposeResult:
        eligible = [(plain(f"{c.display_name} ({c.username})"), c.username) for c in self.candidates if not c.why_not and c.username != self.current]
        barred = [c for c in self.candidates if c.why_not]
        with Vertical(id="dialog", classes="dialog"):
            yield Label(plain(f"Assign {self.review_label}" + (f" (now {self.current})" if self.current else "")), classes="dialog-title")
            yield Select(eligible, prompt="Committee member", id="assignee", allow_blank=True)
            if barred:
                yield Static(plain("\n".join(f"{c.username}: {c.why_not}" for c in barred)), classes="notes")
            yield Label("", id="problem", classes="problem")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Assign", id="confirm", variant="primary")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#assignee", Select).focus()

    def result(self) -> str | None:
        return self.chosen("assignee", "Choose who takes the review.")
