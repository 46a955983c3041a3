"""Override a review's grade (chair): new grade + rationale, logged as an override assessment."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Label, Select

from tui.format import GRADE_ORDER, plain
from tui.modals.rationale import RationaleModal


@dataclass(frozen=True)
class OverrideRequest:
    grade: str
    rationale: str


class OverrideGradeModal(RationaleModal):
    def __init__(self, review_label: str, current: str | None) -> None:
        super().__init__()
        self.review_label, self.current = review_label, current

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Label(plain(f"Override the grade of {self.review_label} (now {self.current or 'ungraded'})"), classes="dialog-title")
            yield Select([(g.title(), g) for g in GRADE_ORDER], prompt="New grade", id="grade", allow_blank=True)
            yield from self.rationale_fields("Override grade")

    def on_mount(self) -> None:
        self.query_one("#rationale").focus()  # what is typed first is the rationale (shift+tab: the grade)

    def result(self) -> OverrideRequest | None:
        grade = self.chosen("grade", "Choose the new grade.")
        return OverrideRequest(grade, self.rationale) if grade else None
