"""Confirm a change of a review's standing: advance to the next gate, or suspend, resume or
withdraw it (chair or admin; the last three need a rationale for the audit trail)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Label, Static

from tui.format import plain
from tui.modals.rationale import RationaleModal

EXPLAIN = {
    "advance": "The review moves to the next gate (its controls for this gate must be met).",
    "suspend": "Work on the review stops until it is resumed; the product must not ship meanwhile.",
    "resume": "The review returns to where it was suspended.",
    "withdraw": "The review ends here; the product needs a new submission to come back.",
}


class StandingModal(RationaleModal):
    def __init__(self, review_label: str, action: str) -> None:
        super().__init__()
        self.review_label, self.action = review_label, action
        self.rationale_required = action != "advance"

    def compose(self) -> ComposeResult:
        verb = self.action.title()
        with Vertical(id="dialog", classes="dialog"):
            yield Label(plain(f"{verb} {self.review_label}?"), classes="dialog-title")
            yield Static(EXPLAIN[self.action], classes="notes", markup=False)
            if self.rationale_required:
                yield from self.rationale_fields(verb)
            else:
                yield Label("", id="problem", classes="problem")
                with Horizontal(classes="dialog-buttons"):
                    yield Button(verb, id="confirm", variant="primary")
                    yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#rationale" if self.rationale_required else "#confirm").focus()

    @property
    def rationale(self) -> str:
        return super().rationale if self.rationale_required else ""

    def result(self) -> str:
        return self.rationale
