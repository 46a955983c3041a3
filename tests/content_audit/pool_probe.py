"""Run in a scanning process by the tests: what that process has imported (this module imports nothing more)."""

from __future__ import annotations

import sys


def imported(*roots: str) -> list[str]:
    """The modules under ``roots`` loaded in this process."""
    return sorted(m for m in sys.modules if m.split(".")[0] in roots)
