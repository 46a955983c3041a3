"""App-wide messages: small dataclasses, each handled in one place.

Widget-specific messages live inside their widget/screen class instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.message import Message


@dataclass
class WorkerFailed(Message):
    """A worker raised; the app's single error handler turns it into a modal.

    ``origin`` is the screen that ran the worker: it is refreshed after a conflict.
    """

    error: BaseException
    worker_name: str
    origin: Any = None


@dataclass
class OpenReview(Message):
    """Open the review workspace for ``review_id`` (from the queue, the palette, a future screen)."""

    review_id: int


@dataclass
class ReviewChanged(Message):
    """A use case changed ``review_id``; screens showing it (the queue) reload."""

    review_id: int
    summary: str = ""


@dataclass
class QueuePainted(Message):
    """The queue table shows fresh rows (``reason``: first, filter, more). Benchmarks time this."""

    rows: int
    reason: str
    generation: int
