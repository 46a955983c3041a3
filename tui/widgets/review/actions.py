"""The workspace's action bar: one button per committee action, disabled WITH the reason.

The keymap is data (``ACTION_KEYS``): the screen builds its bindings from it, so keys and
buttons never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Static

# action (services.permissions name) -> (key, label)
ACTION_KEYS: dict[str, tuple[str, str]] = {
    "assign-to-me": ("a", "Assign to me"),
    "approve": ("p", "Approve"),
    "request-changes": ("c", "Request changes"),
    "reject": ("x", "Reject"),
    "verify": ("v", "Verify control"),
    "override-grade": ("g", "Override grade"),
    "declare-conflict": ("i", "Declare conflict"),
    "assign": ("t", "Assign to…"),
    "waive": ("w", "Waive control"),
    "advance": ("n", "Advance gate"),
    "suspend": ("s", "Suspend"),
    "resume": ("u", "Resume"),
    "withdraw": ("d", "Withdraw"),
}
# Shorter labels for a narrow terminal (both rows fit in 80 columns).
SHORT_LABELS: dict[str, str] = {
    "assign-to-me": "Take", "approve": "Approve", "request-changes": "Changes", "reject": "Reject", "verify": "Verify",
    "override-grade": "Grade", "declare-conflict": "Conflict", "assign": "Assign", "waive": "Waive", "advance": "Advance",
    "suspend": "Suspend", "resume": "Resume", "withdraw": "Withdraw",
}
#: Narrower than this, the buttons use ``SHORT_LABELS``.
NARROW = 110
# The second row of buttons: the chair's (and admin's) actions.
CHAIR_ROW = ("override-grade", "assign", "waive", "advance", "suspend", "resume", "withdraw")
# Chair actions the bar explains only when they are possible (their "why not" for a
# reviewer would be noise on every review).
QUIET_WHEN_REFUSED = frozenset(CHAIR_ROW)


class ActionBar(Vertical):
    @dataclass
    class Requested(Message):
        action: str

    def compose(self) -> ComposeResult:
        for row, actions in (("action-buttons", [a for a in ACTION_KEYS if a not in CHAIR_ROW]), ("chair-buttons", CHAIR_ROW)):
            with Horizontal(id=row, classes="action-row"):
                for action in actions:
                    key, label = ACTION_KEYS[action]
                    yield Button(f"{label} ({key})", id=f"act-{action}", disabled=True, compact=True)
        yield Static("", id="why-not", markup=False)

    def on_resize(self, event: Any) -> None:
        short = self.app.size.width < NARROW  # the bar's own width grows with its widest row
        for action, (key, label) in ACTION_KEYS.items():
            self.query_one(f"#act-{action}", Button).label = f"{key} {SHORT_LABELS[action]}" if short else f"{label} ({key})"

    def show(self, perms: object | None) -> None:
        """Enable/disable every button from ``services.permissions.Permissions`` and list the reasons."""
        lines = Text()
        for action, (_key, label) in ACTION_KEYS.items():
            button = self.query_one(f"#act-{action}", Button)
            state = getattr(perms, "actions", {}).get(action) if perms is not None else None
            if state is None:
                button.disabled, button.tooltip = True, "loading…"
                continue
            button.disabled = not state.allowed
            why = "; ".join(state.reasons)
            button.tooltip = why if not state.allowed else (state.note or None)
            if not state.allowed and action not in QUIET_WHEN_REFUSED:
                lines.append(f"{label}: ", style="bold")
                lines.append(f"{why}\n", style="dim")
            elif state.note:
                lines.append(f"{label}: ", style="bold")
                lines.append(f"{state.note}\n", style="cyan")
        lines.rstrip()
        self.query_one("#why-not", Static).update(lines)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id and event.button.id.startswith("act-"):
            self.post_message(self.Requested(event.button.id.removeprefix("act-")))
