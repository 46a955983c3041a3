"""Output for people (rich tables) and machines (``--json``)."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any, Iterable, Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

GRADE_STYLE = {"LOW": "green", "MEDIUM": "yellow", "HIGH": "bold red", "UNACCEPTABLE": "bold white on red"}
STATUS_STYLE = {
    "APPROVED": "green", "REJECTED": "red", "CHANGES_REQUESTED": "yellow", "IN_REVIEW": "cyan",
    "SUBMITTED": "blue", "DRAFT": "dim", "VERIFIED": "green", "EVIDENCE_SUBMITTED": "cyan",
    "REQUIRED": "yellow", "WAIVED": "magenta",
}

_console: Console | None = None


def console() -> Console:
    global _console
    if _console is None:
        _console = Console(highlight=False, soft_wrap=False)
        if not _console.is_terminal:
            # Piped or captured: do not squeeze tables into 80 columns.
            _console = Console(highlight=False, soft_wrap=False, width=160)
    return _console


def err(message: str) -> None:
    print(f"ethics-review: error: {message}", file=sys.stderr)


def emit_json(value: Any) -> None:
    print(json.dumps(value, default=_default, ensure_ascii=False, indent=None))


def _default(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.isoformat()
    if hasattr(v, "to_json"):
        return v.to_json()
    if hasattr(v, "model_dump"):
        return v.model_dump(mode="json")
    if hasattr(v, "__dict__"):
        return v.__dict__
    return str(v)


def grade_text(grade: str | None) -> Text:
    if not grade:
        return Text("-", style="dim")
    return Text(f" {grade} ", style=GRADE_STYLE.get(grade, ""))


def status_text(status: str | None) -> Text:
    return Text(status or "-", style=STATUS_STYLE.get(status or "", ""))


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]], *, caption: str | None = None) -> None:
    t = Table(title=title, caption=caption, header_style="bold", show_lines=False, pad_edge=False)
    for c in columns:
        t.add_column(c, overflow="fold")
    for r in rows:
        t.add_row(*[x if isinstance(x, Text) else Text("-" if x is None else str(x)) for x in r])
    console().print(t)


def when(dt: datetime | None) -> str:
    return dt.strftime("%Y-%m-%d %H:%M") if dt else "-"


def say(message: str, style: str | None = None) -> None:
    console().print(message, style=style)
