"""Pure formatting for the committee screens: grade badges, status words, SLA text, bars.

No Textual here (only Rich ``Text``), so it is unit-testable and shared by every screen.
Dates are rendered against an explicit ``now`` (the app's clock) so tests can freeze it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Iterable

from rich.text import Text

from review.domain.lifecycle import AWAITING_COMMITTEE
from review.text import visible

GRADE_STYLE = {
    "LOW": "bold black on green",
    "MEDIUM": "bold black on yellow",
    "HIGH": "bold white on dark_orange3",
    "UNACCEPTABLE": "bold white on red3",
}
STATUS_STYLE = {
    "SUBMITTED": "cyan",
    "IN_REVIEW": "bold cyan",
    "CHANGES_REQUESTED": "yellow",
    "APPROVED": "green",
    "REJECTED": "red",
    "DRAFT": "dim",
}
CONTROL_STYLE = {"REQUIRED": "yellow", "EVIDENCE_SUBMITTED": "cyan", "VERIFIED": "green", "REJECTED": "red", "WAIVED": "dim"}
GRADE_ORDER = ("LOW", "MEDIUM", "HIGH", "UNACCEPTABLE")
GATE_ORDER = ("INITIATION", "DEVELOPMENT", "RELEASE", "MONITORING", "SUSPENDED", "WITHDRAWN")
OPEN_STATUSES = tuple(s.value for s in AWAITING_COMMITTEE)


def plain(value: object, **kw: object) -> Text:
    """Untrusted text as a ``Text``: never parsed as markup; control and bidi characters made visible."""
    return Text(visible("-" if value is None else value), **kw)  # type: ignore[arg-type]


def sanitized(text: Text) -> Text:
    """A built ``Text`` with control and bidi characters made visible in place (same length: styles stay put)."""
    text.plain = visible(text.plain)
    return text


def grade_badge(grade: str | None, label: str | None = None) -> Text:
    """The grade as its pack names it (``label``: "Level IV" for a canada-aia UNACCEPTABLE), coloured by the grade."""
    if not grade:
        return Text(" UNGRADED ", style="dim reverse")
    return Text(f" {visible(label or grade)} ", style=GRADE_STYLE.get(grade, "reverse"))


def label_cell(grade: str, label: str, width: int) -> Text:
    """A pack's label for ``grade`` in a column ``width`` cells wide: without its gloss, padded when it fits, else cut."""
    text = visible(short_label(label) or grade)
    return Text(f" {text} " if len(text) + 2 <= width else text[:width], style=GRADE_STYLE.get(grade, "reverse"))


def short_label(label: str | None) -> str | None:
    """A level's label for a narrow column: without its trailing gloss ("Level IV (very high impact)" -> "Level IV")."""
    if not label:
        return label
    head, sep, _ = label.partition(" (")
    return head if sep and label.endswith(")") and head else label


def status_text(status: str) -> Text:
    return Text(status.replace("_", " ").lower(), style=STATUS_STYLE.get(status, ""))


def control_status(status: str) -> Text:
    return Text(status.replace("_", " ").lower(), style=CONTROL_STYLE.get(status, ""))


def as_time(value: datetime | str | None) -> datetime | None:
    """A time as a datetime (review details carry ISO 8601 text)."""
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def is_overdue(due_at: datetime | str | None, status: str, now: datetime) -> bool:
    due_at = as_time(due_at)
    return due_at is not None and due_at < now and status in OPEN_STATUSES


def due_text(due_at: datetime | str | None, status: str, now: datetime) -> Text:
    """Absolute due date plus the distance from ``now`` in whole days (only for open reviews)."""
    due_at = as_time(due_at)
    if due_at is None:
        return Text("-", style="dim")
    label = f"{due_at:%Y-%m-%d}"
    if status not in OPEN_STATUSES:
        return Text(label, style="dim")
    days = (due_at.date() - now.date()).days
    if due_at < now:
        late = max(0, -days)
        return Text(f"{label} overdue {late}d" if late else f"{label} overdue", style="bold red")
    if days == 0:
        return Text(f"{label} today", style="bold yellow")
    return Text(f"{label} in {days}d", style="yellow" if days <= 2 else "")


def when(value: datetime | str | None) -> str:
    value = as_time(value)
    return f"{value:%Y-%m-%d %H:%M}" if value else "-"


def bar(value: float, maximum: float, width: int, style: str = "", *, char: str = "█") -> Text:
    """A horizontal bar ``width`` cells long for ``value`` out of ``maximum`` (eighth-block precision)."""
    if maximum <= 0 or value <= 0:
        return Text("")
    cells = max(0.0, min(1.0, value / maximum)) * width
    full, rest = int(cells), int(round((cells - int(cells)) * 8))
    partial = " ▏▎▍▌▋▊▉"[rest] if 0 < rest < 8 and char == "█" else ""
    if rest == 8:
        full += 1
    text = char * full + partial
    if not text:
        text = "▏"
    return Text(text, style=style)


def stacked_bar(parts: Iterable[tuple[float, str]], maximum: float, width: int) -> Text:
    """Segments (value, style) side by side, scaled together to ``maximum``; each non-zero part gets >= 1 cell."""
    out = Text()
    if maximum <= 0:
        return out
    for value, style in parts:
        if value <= 0:
            continue
        out.append("█" * max(1, round(value / maximum * width)), style=style)
    return out


def humanize(action: str) -> str:
    return action.replace("-", " ").replace("_", " ").capitalize()
