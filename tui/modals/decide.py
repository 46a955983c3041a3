"""Decide a review: approve / request changes / reject, with the rationale the audit trail shows."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Label, RadioButton, RadioSet, Static

from tui.format import plain
from tui.modals.rationale import RationaleModal

DECISIONS = (("approve", "Approve"), ("request-changes", "Request changes"), ("reject", "Reject"))


@dataclass(frozen=True)
class DecisionRequest:
    action: str
    rationale: str


class DecideModal(RationaleModal):
    """``allowed``: action -> (allowed, reason, note) from services.permissions; refused options are disabled with the reason."""

    def __init__(self, review_label: str, action: str, allowed: dict[str, tuple[bool, str, str]]) -> None:
        super().__init__()
        self.review_label, self.initial, self.allowed = review_label, action, allowed

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Label(plain(f"Decide {self.review_label}"), classes="dialog-title")
            with RadioSet(id="decision"):
                for action, label in DECISIONS:
                    ok, _why, _note = self.allowed.get(action, (True, "", ""))
                    yield RadioButton(label, value=action == self.initial and ok, id=f"opt-{action}", disabled=not ok)
            notes = []
            for action, label in DECISIONS:
                ok, why, note = self.allowed.get(action, (True, "", ""))
                if not ok:
                    notes.append(f"{label}: not available: {why}")
                elif note:
                    notes.append(f"{label}: {note}")
            yield Static(plain("\n".join(notes)), id="decision-notes", classes="notes")
            yield from self.rationale_fields("Record decision")

    def on_mount(self) -> None:
        self.query_one("#rationale").focus()

    @property
    def chosen(self) -> str | None:
        pressed = self.query_one("#decision", RadioSet).pressed_button
        return pressed.id.removeprefix("opt-") if pressed and pressed.id else None

    def result(self) -> DecisionRequest | None:
        action = self.chosen
        if action is None:
            self.problem("Choose approve, request changes or reject.")
            return None
        return DecisionRequest(action, self.rationale)
