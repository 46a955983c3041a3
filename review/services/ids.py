"""Record ids from user input, without the store: what ``ethics-review show`` needs to refuse a bad id on its
compiled-SQL path (``review.services.showing``) exactly as the use cases do (``review.services.common``)."""

from __future__ import annotations

from typing import Any

from review.errors import InvalidInput, NotFound


def parse_id(value: Any, what: str, *, prefix: str = "", hint: str = "") -> int:
    """A positive record id from user input ("12", "#12", or ``prefix`` + "12"), or InvalidInput naming ``what``."""
    text = str(value).strip().lstrip("#")
    if prefix and text.upper().startswith(prefix):
        text = text[len(prefix):]
    try:
        n = int(text)
    except ValueError:
        raise InvalidInput(f"{what} {value!r} is not a number{hint}") from None
    if n <= 0:
        raise InvalidInput(f"{what} {value!r} must be positive")
    return n


def parse_review_id(value: Any) -> int:
    return parse_id(value, "review id", prefix="R-", hint=" (e.g. 12 or R-12)")


def review_not_found(rid: int) -> NotFound:
    """The error for a review id that names no review."""
    return NotFound(f"review {rid} does not exist; `ethics-review list` shows the reviews")
