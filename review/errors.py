"""Errors meant for people.

Every error a use case raises for bad input or a refused action is a ``ReviewError``:
its message names what was wrong, where, and how to fix it. The CLI prints it on one
line and exits non-zero; the TUI shows it in a modal. Anything else is a bug.
"""

from __future__ import annotations

from typing import Any


class ReviewError(Exception):
    """Base class: a refusal or bad input, explained for a person."""

    exit_code = 2
    #: Longest message kept whole (a file's every problem at once fits). Values are quoted through
    #: ``clip``; should a message still quote a huge one, the middle is cut: the start (what) and the
    #: end (the fix) stay, and 100 MB never reaches stderr, a modal or a problem+json body.
    MAX_CHARS = 20_000
    #: Set by a use case for work to do once its transaction rolled back (``Database.transaction`` calls it
    #: with the database): a refused attempt the trail keeps.
    after_rollback: Any = None

    def __init__(self, message: str) -> None:
        if len(message) > self.MAX_CHARS:
            cut = len(message) - 16_000
            message = f"{message[:12_000]} ... [{cut:,} characters cut] ... {message[-4_000:]}"
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.message


def clip(value: object, limit: int = 80) -> str:
    """``repr(value)`` for an error message, cut to ``limit`` characters with the length said."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


class InvalidInput(ReviewError):
    """A file, field or value that does not fit (names file, field, value and the fix)."""


class NotFound(ReviewError):
    """A review, product, user, control or run that does not exist."""

    exit_code = 3


class Forbidden(ReviewError):
    """The acting user may not do this (role, segregation of duties, recusal)."""

    exit_code = 4


class IllegalTransition(ReviewError):
    """A lifecycle move the transition table does not allow from the current state."""

    exit_code = 5


class Conflict(ReviewError):
    """Someone else changed the record first (optimistic locking)."""

    exit_code = 6


class GateBlocked(ReviewError):
    """A gate rule refuses the move (unmet controls, missing quorum, unacceptable grade)."""

    exit_code = 7


class NotAuthenticated(ReviewError):
    """No credential, or one that is unknown, expired, revoked or forged (HTTP 401)."""

    exit_code = 10


class Unavailable(ReviewError):
    """The review server cannot be reached or failed (HTTP 5xx)."""

    exit_code = 11


class ScannerUnavailable(Unavailable):
    """A moderation endpoint a scanner calls is down, too slow, or answers nonsense: the audit stops, never passes it by."""


class ModelUnavailable(Unavailable):
    """The model an evaluation run questions is down, too slow, or answers nonsense: the run stops (resumable), never passes."""


#: HTTP status and problem type of each error class (the API's problem+json and the remote
#: client's way back to the same class, hence the same CLI exit code).
PROBLEMS: dict[type[ReviewError], tuple[int, str]] = {
    InvalidInput: (422, "invalid-input"),
    NotFound: (404, "not-found"),
    Forbidden: (403, "not-allowed"),
    IllegalTransition: (409, "illegal-move"),
    Conflict: (409, "conflict"),
    GateBlocked: (409, "gate-rule"),
    NotAuthenticated: (401, "not-authenticated"),
    Unavailable: (503, "unavailable"),
    ReviewError: (422, "refused"),
}


def problem_of(exc: ReviewError) -> tuple[int, str]:
    """(HTTP status, problem type) for an error: its own class first, then its bases."""
    for cls in type(exc).__mro__:
        if cls in PROBLEMS:
            return PROBLEMS[cls]
    return PROBLEMS[ReviewError]


def error_for(problem_type: str, message: str) -> ReviewError:
    """The error a problem type stands for (the remote client raises it)."""
    for cls, (_status, kind) in PROBLEMS.items():
        if kind == problem_type:
            return cls(message)
    return ReviewError(message)
