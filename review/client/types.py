"""The data types the client interface returns and takes, in one place for entry points.

The TUI (and any other entry point) imports these from here rather than from
``review.services``: it reaches the use cases only through a ``Client``.
"""

from review.services.content_audit import ItemView, RunDetail, Span
from review.services.content_report import VerdictView, verdict_word
from review.services.controls import WAIVABLE
from review.services.followups import VisitOutcome, question_parts
from review.services.permissions import ActionState, Candidate, Permissions
from review.services.queries import ControlView, Page, ReviewDetail, ReviewFilter, ReviewRow

__all__ = [
    "WAIVABLE", "ActionState", "Candidate", "ControlView", "ItemView", "Page", "Permissions", "ReviewDetail", "ReviewFilter", "ReviewRow",
    "RunDetail", "Span", "VerdictView", "VisitOutcome", "question_parts", "verdict_word",
]
