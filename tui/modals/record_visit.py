"""Record one follow-up visit: the customer, y/n per question, the finding derived live, notes.

The finding is not chosen: it follows from the adverse answers the way the service derives
it (an adverse answer to an initiation question is a new risk, to a controls question a
failed control, which needs the control ids). The service validates everything again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from tui.format import plain
from tui.modals.rationale import ConfirmCancel
from tui.widgets.followups.render import derive_finding, finding_text, question_line

@dataclass(frozen=True)
class VisitRequest:
    customer: str
    doc: dict[str, Any]  # what followups.record_visit takes: answers, controls, notes (finding derived)

class AnswerRow(Static, can_focus=True):
    """One question: ``y`` / ``n`` answer it (and move to the next), ``space`` toggles."""

    BINDINGS = [Binding("y", "answer('yes')", "Yes"), Binding("n", "answer('no')", "No"), Binding("space", "toggle", "Toggle", show=False)]

    @dataclass
    class Answered(Message):
        row: "AnswerRow"

    def __init__(self, index: int, question: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.index, self.question = index, question
        self.answer: str | None = None

    def on_mount(self) -> None:
        self._paint()

    def _paint(self) -> None:
        self.update(question_line(self.index, self.question, self.answer, current=self.has_focus))

    def on_focus(self) -> None:
        self._paint()

    def on_blur(self) -> None:
        self._paint()

    def action_answer(self, value: str) -> None:
        self.answer = value
        self._paint()
        self.post_message(self.Answered(self))

    def action_toggle(self) -> None:
        self.action_answer("no" if self.answer == "yes" else "yes")

class RecordVisitModal(ConfirmCancel, ModalScreen[VisitRequest | None]):
    """``check``: ``followups.show_check``; only PENDING visits can be recorded."""

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "submit", "Save visit", show=True)]

    def __init__(self, check: dict[str, Any], *, customer: str | None = None) -> None:
        super().__init__()
        self.check = check
        self.pending = [v for v in check.get("visits") or [] if v["status"] == "PENDING"]
        names = [v["customer"] for v in self.pending]
        self.initial = customer if customer in names else (names[0] if names else None)

    @property
    def questionnaire(self) -> list[Any]:
        visit = next((v for v in self.pending if v["customer"] == self.customer), None) or (self.pending[0] if self.pending else {})
        return list(visit.get("questionnaire") or [])

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog wide"):
            yield Label(plain(f"Record a visit of follow-up check {self.check['id']} ({self.check['product']})"), classes="dialog-title")
            yield Select([(plain(v["customer"]), v["customer"]) for v in self.pending], value=self.initial or Select.NULL, id="customer",
                         allow_blank=self.initial is None)
            yield Static("Answer each question: y / n (tab moves on)", classes="notes")
            questions = list((self.pending[0] if self.pending else {}).get("questionnaire") or [])
            for i, q in enumerate(questions):
                yield AnswerRow(i, q, id=f"q{i + 1}", classes="answer")
            yield Static("", id="derived-finding")
            yield Label("Controls found not working (comma separated; only for a failed control)", classes="field-label")
            yield Input(placeholder="e.g. HR-02, PRV-01", id="controls")
            yield Label("Notes (what happened, who, when: required with a finding)", classes="field-label")
            yield Input(placeholder="Notes for the committee", id="notes")
            yield Label("", id="problem", classes="problem")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Save visit", id="confirm", variant="primary")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        rows = list(self.query(AnswerRow).results(AnswerRow))
        if rows:
            rows[0].focus()
        self._show_finding()

    @property
    def customer(self) -> str | None:
        value = self.query_one("#customer", Select).value if self.is_mounted else self.initial
        return value if isinstance(value, str) else None

    def answers(self) -> dict[str, str]:
        return {f"q{r.index + 1}": r.answer for r in self.query(AnswerRow).results(AnswerRow) if r.answer is not None}

    def controls(self) -> list[str]:
        return [c.strip().upper() for c in self.query_one("#controls", Input).value.split(",") if c.strip()]

    def _show_finding(self) -> None:
        finding = derive_finding(self.questionnaire, self.answers(), self.controls())
        t = Text("Finding: ", style="bold")
        t.append_text(finding_text(finding) if finding else Text("answer every question", style="dim"))
        if finding and finding != "none":
            t.append("  · the check is triggered and the review reopened", style="red")
        self.query_one("#derived-finding", Static).update(t)

    def on_answer_row_answered(self, event: AnswerRow.Answered) -> None:
        self._show_finding()
        self.problem("")
        self.focus_next()

    def on_input_changed(self, event: Input.Changed) -> None:
        self._show_finding()

    def problem(self, text: str) -> None:
        self.query_one("#problem", Label).update(text)

    def result(self) -> VisitRequest | None:
        if self.customer is None:
            self.problem("Choose the customer visited.")
            return None
        answers = self.answers()
        missing = [f"q{i + 1}" for i in range(len(self.questionnaire)) if f"q{i + 1}" not in answers]
        if missing:
            self.problem(f"Answer {', '.join(missing)} (y or n).")
            self.query_one(f"#{missing[0]}", AnswerRow).focus()
            return None
        doc: dict[str, Any] = {"answers": answers, "notes": self.query_one("#notes", Input).value.strip()}
        if self.controls():
            doc["controls"] = self.controls()
        return VisitRequest(self.customer, doc)

