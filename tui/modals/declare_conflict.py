"""Declare a conflict of interest on a product: the acting reviewer is recused from its reviews."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Label, Static

from tui.format import plain
from tui.modals.rationale import RationaleModal


class DeclareConflictModal(RationaleModal):
    def __init__(self, product: str) -> None:
        super().__init__()
        self.product = product

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Label(plain(f"Declare a conflict of interest on {self.product}"), classes="dialog-title")
            yield Static("You will be recused: you can no longer decide, verify or be assigned its reviews.", classes="notes")
            yield from self.rationale_fields("Declare conflict", "What is the conflict? (recorded)")

    def on_mount(self) -> None:
        self.query_one("#rationale").focus()

    def result(self) -> str:
        return self.rationale
