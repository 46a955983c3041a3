"""A shared base for modals that collect a choice and a rationale for the audit trail."""

from __future__ import annotations

from rich.text import Text

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select

MIN_RATIONALE = 3


class ConfirmCancel:
    """Enter, ctrl+s or the confirm button submit (``result()`` -> value, or None to stay);
    escape or any other button cancels. Mixed into modal screens."""

    def result(self) -> object | None:  # pragma: no cover - overridden
        raise NotImplementedError

    def ready(self) -> bool:
        """Checks before ``result()`` (e.g. a rationale); False keeps the modal open."""
        return True

    def chosen(self, select_id: str, missing: str) -> str | None:
        """The value of the ``Select`` ``select_id``, or None after saying ``missing`` in
        the modal's ``#problem`` label."""
        value = self.query_one(f"#{select_id}", Select).value  # type: ignore[attr-defined]
        if isinstance(value, str):
            return value
        self.query_one("#problem", Label).update(missing)  # type: ignore[attr-defined]
        return None

    def action_submit(self) -> None:
        if not self.ready():
            return
        value = self.result()
        if value is not None:
            self.dismiss(value)  # type: ignore[attr-defined]

    def action_cancel(self) -> None:
        self.dismiss(None)  # type: ignore[attr-defined]

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "confirm":
            self.action_submit()
        else:
            self.dismiss(None)  # type: ignore[attr-defined]


class RationaleModal(ConfirmCancel, ModalScreen):
    """Subclasses compose their fields then ``yield from self.rationale_fields()``; ``submit()`` validates."""

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "submit", "Confirm", show=True)]
    min_rationale = MIN_RATIONALE
    rationale_required = True

    def rationale_fields(self, confirm_label: str = "Confirm", placeholder: str = "Rationale (recorded in the audit trail)") -> ComposeResult:
        yield Label("Rationale", classes="field-label")
        yield Input(placeholder=placeholder, id="rationale")
        yield Label("", id="problem", classes="problem")
        with Horizontal(classes="dialog-buttons"):
            yield Button(confirm_label, id="confirm", variant="primary")
            yield Button("Cancel", id="cancel")

    @property
    def rationale(self) -> str:
        return self.query_one("#rationale", Input).value.strip()

    def problem(self, text: "str | Text") -> None:
        """Say what is wrong in the modal, as plain text (a message may quote a file name or other untrusted text)."""
        self.query_one("#problem", Label).update(text if isinstance(text, Text) else Text(text))

    def check_rationale(self) -> bool:
        if self.rationale_required and len(self.rationale) < self.min_rationale:
            self.problem(f"A rationale of at least {self.min_rationale} characters is required (the audit trail shows it).")
            self.query_one("#rationale", Input).focus()
            return False
        return True

    def ready(self) -> bool:
        return self.check_rationale()
