"""One-line summaries of use-case results that the CLI and the TUI both print."""

from __future__ import annotations

from typing import Any


def override_summary(r: Any, requested: str) -> str:
    """What an override did: applied, or proposed and waiting for a second signature (the grade did not change)."""
    if (r.grade or "").upper() == requested.strip().upper():
        return f"review {r.id}: grade overridden to {r.grade}"
    return (f"review {r.id}: lowering the grade to {requested.strip().upper()} is proposed and needs a second signature "
            f"(another chair or an admin runs the same override); the grade stays {r.grade}")
