"""Waive a control requirement (chair): which control, and why it does not apply or what
replaces it (recorded in the audit trail)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Label, Select

from tui.format import plain
from tui.modals.rationale import RationaleModal


@dataclass(frozen=True)
class WaiveRequest:
    control_id: str
    rationale: str


class WaiveControlModal(RationaleModal):
    min_rationale = 10  # the service asks for a sentence

    def __init__(self, review_label: str, open_controls: list[tuple[str, str]], cursor: str | None) -> None:
        super().__init__()
        self.review_label, self.open_controls, self.cursor = review_label, open_controls, cursor

    def compose(self) -> ComposeResult:
        ids = [cid for cid, _ in self.open_controls]
        with Vertical(id="dialog", classes="dialog"):
            yield Label(plain(f"Waive a control of {self.review_label}"), classes="dialog-title")
            yield Select([(plain(f"{cid}  {title}"), cid) for cid, title in self.open_controls], prompt="Control", id="control",
                         allow_blank=True, value=self.cursor if self.cursor in ids else Select.BLANK)
            yield from self.rationale_fields("Waive", "Why the control does not apply, or what replaces it")

    def on_mount(self) -> None:
        self.query_one("#rationale").focus()  # what is typed first is the rationale (shift+tab: the control)

    def result(self) -> WaiveRequest | None:
        control = self.chosen("control", "Choose the control to waive.")
        return WaiveRequest(control, self.rationale) if control else None
