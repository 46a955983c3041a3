"""Verify a control's evidence: pass or fail (a failure needs a rationale the team can act on)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Label, RadioButton, RadioSet, Select

from tui.format import plain
from tui.modals.rationale import RationaleModal


@dataclass(frozen=True)
class VerifyRequest:
    control_id: str
    verdict: str  # pass | fail
    rationale: str


class VerifyControlModal(RationaleModal):
    """``pending``: (control_id, title) with evidence waiting; ``initial``: the control under the cursor."""

    rationale_required = False

    def __init__(self, review_label: str, pending: list[tuple[str, str]], initial: str | None = None) -> None:
        super().__init__()
        self.review_label, self.pending = review_label, pending
        ids = [c for c, _ in pending]
        self.initial = initial if initial in ids else (ids[0] if ids else None)

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Label(plain(f"Verify a control of {self.review_label}"), classes="dialog-title")
            yield Select([(plain(f"{cid}  {title}"), cid) for cid, title in self.pending], value=self.initial or Select.NULL,
                         id="control", allow_blank=self.initial is None)
            with RadioSet(id="verdict"):
                yield RadioButton("Pass: evidence meets the requirement", id="v-pass", value=True)
                yield RadioButton("Fail: send back to the product team", id="v-fail")
            yield from self.rationale_fields("Record verdict", "Rationale (required when it fails)")

    def on_mount(self) -> None:
        self.query_one("#rationale").focus()  # what is typed first is the rationale (shift+tab: the verdict)

    def result(self) -> VerifyRequest | None:
        control = self.query_one("#control", Select).value
        if not isinstance(control, str):
            self.problem("Choose the control.")
            return None
        pressed = self.query_one("#verdict", RadioSet).pressed_button
        verdict = "fail" if pressed is not None and pressed.id == "v-fail" else "pass"
        if verdict == "fail" and len(self.rationale) < self.min_rationale:
            self.problem("A failed verification needs a rationale the product team can act on.")
            return None
        return VerifyRequest(control, verdict, self.rationale)
