"""Errors meant for people.

Every error a use case raises for bad input or a refused action is a ``ReviewError``:
its message names what was wrong, where, and how to fix it. The CLI prints it on one
line and exits non-zero; the TUI shows it in a modal. Anything else is a bug.
"""

from __future__ import annotations


class ReviewError(Exception):
    """Base class: a refusal or bad input, explained for a person."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.message


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
