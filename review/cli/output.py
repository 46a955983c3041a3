"""Output for people (rich tables) and machines (``--json``).

Untrusted text is text: nothing printed here is parsed as Rich markup (``say`` and ``line``
build ``Text`` objects; table cells are ``Text``), and ``safe`` shows control characters,
terminal escape sequences and bidi overrides as visible escapes (``\\x1b``) instead of
sending them to the terminal. ``--json`` escapes them too.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import TYPE_CHECKING, Any, Iterable, Sequence

if TYPE_CHECKING:  # Rich is imported when something is printed, not for `--help` (CLI start-up time)
    from rich.console import Console
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
        from rich.console import Console

        _console = Console(highlight=False, soft_wrap=False)
        if not _console.is_terminal:
            # Piped or captured: do not squeeze tables into 80 columns.
            _console = Console(highlight=False, soft_wrap=False, width=160)
    return _console


from review.text import UNSAFE as _UNSAFE
from review.text import escaped as safe

def err(message: str) -> None:
    print(f"ethics-review: error: {safe(message)}", file=sys.stderr)


def emit_json(value: Any) -> None:
    text = json.dumps(value, default=_default, ensure_ascii=False, indent=None)
    print(_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text))


def csv_option(parser: Any) -> None:
    """``--format table|csv`` on a listing command."""
    parser.add_argument("--format", choices=("table", "csv"), default="table", help="csv: every row in full, for a spreadsheet")


def emit_csv(records: Iterable[dict[str, Any]]) -> None:
    """Records as CSV on standard output (columns: every key, first seen first). Lists and objects are JSON
    text; a cell a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``) is prefixed with ``'``;
    control characters and escape sequences are shown as escapes, as everywhere."""
    import csv

    rows = list(records)
    columns: dict[str, None] = {}
    for r in rows:
        columns.update(dict.fromkeys(r))
    w = csv.writer(sys.stdout, lineterminator="\n")
    w.writerow(list(columns))
    for r in rows:
        w.writerow([_csv_cell(r.get(c)) for c in columns])


def _csv_cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, datetime):
        return v.isoformat()
    text = v if isinstance(v, str) else json.dumps(v, default=_default, ensure_ascii=False)
    text = safe(text)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


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


def grade_text(grade: str | None, label: str | None = None) -> Text:
    """The grade as its pack names it (``label``: "Level IV (very high impact)" for a canada-aia UNACCEPTABLE),
    coloured by the grade."""
    from rich.text import Text

    if not grade:
        return Text("-", style="dim")
    return Text(f" {safe(label or grade)} ", style=GRADE_STYLE.get(grade, ""))


def status_text(status: str | None) -> Text:
    from rich.text import Text

    return Text(safe(status or "-"), style=STATUS_STYLE.get(status or "", ""))


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]], *, caption: str | None = None) -> None:
    from rich.table import Table
    from rich.text import Text

    t = Table(title=Text(safe(title)) if title else None, caption=Text(safe(caption)) if caption else None, header_style="bold",
              show_lines=False, pad_edge=False)
    for c in columns:
        t.add_column(c, overflow="fold")
    for r in rows:
        t.add_row(*[x if isinstance(x, Text) else Text("-" if x is None else safe(x)) for x in r])
    console().print(t)


def when(dt: datetime | None) -> str:
    return dt.strftime("%Y-%m-%d %H:%M") if dt else "-"


def say(message: str, style: str | None = None) -> None:
    """One line of plain text (never markup)."""
    from rich.text import Text

    console().print(Text(safe(message), style=style or ""))


def line(*parts: Any) -> None:
    """One line from parts: ``str`` (plain text), ``Text``, or ``(text, style)``; never markup."""
    from rich.text import Text

    out = Text()
    for part in parts:
        if isinstance(part, Text):
            out.append_text(part)
        elif isinstance(part, tuple):
            out.append(safe(part[0]), style=part[1])
        else:
            out.append(safe(part))
    console().print(out)
