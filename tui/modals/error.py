"""Modals that explain a failure: any refused action or error, and a lost race (conflict)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from tui.format import plain


class ErrorModal(ModalScreen[bool]):
    """Show ``message`` under ``title``; enter/escape closes it."""

    BINDINGS = [Binding("escape,enter", "close", "Close")]

    def __init__(self, title: str, message: str, *, classes: str = "") -> None:
        super().__init__(classes=classes)
        self.title_text, self.message = title, message

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog error"):
            yield Label(plain(self.title_text), classes="dialog-title")
            yield Static(plain(self.message), id="error-message", classes="dialog-body")
            with Horizontal(classes="dialog-buttons"):
                yield Button("OK", id="ok", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#ok", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(True)

    def action_close(self) -> None:
        self.dismiss(True)


class ConflictModal(ErrorModal):
    """Someone else changed the review first: nothing of yours was saved; the view reloads."""

    def __init__(self, message: str) -> None:
        super().__init__(
            "Someone else changed this review first",
            f"{message}\n\nYour action was NOT saved. The review has been reloaded with the latest state: "
            "check it, then decide again if you still want to.",
            classes="conflict",
        )
