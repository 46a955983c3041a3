"""Terminal charts for the dashboard (Rich tables of bars; no plotting dependency)."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from tui.format import GATE_ORDER, GRADE_ORDER, GRADE_STYLE, STATUS_STYLE, bar, plain, stacked_bar

STATUS_ORDER = ("DRAFT", "SUBMITTED", "IN_REVIEW", "CHANGES_REQUESTED", "APPROVED", "REJECTED")


def _colour(style: str) -> str:
    return style.split(" on ")[-1] if " on " in style else (style.split()[-1] if style else "white")


def _grid() -> Table:
    t = Table.grid(padding=(0, 1))
    t.add_column(no_wrap=True, min_width=14)
    t.add_column(justify="right", min_width=8)
    t.add_column(no_wrap=True)
    return t


def _level_name(row: dict[str, Any]) -> Text:
    """A grade as its pack names it: the default names in lower case as before, a pack's own label as written."""
    label = row.get("label") or row["grade"]
    return plain(label.lower() if label == row["grade"] else label)


def grade_distribution(levels: list[dict[str, Any]], width: int) -> Any:
    """Reviews per grade as each pack names it (``level_distribution``: a canada-aia Level IV is its own row,
    coloured as UNACCEPTABLE)."""
    rank = {g: i for i, g in enumerate(GRADE_ORDER)}
    rows = sorted(levels, key=lambda r: (rank.get(r["grade"], len(rank)), r["grade"], r.get("label") or ""))
    top = max((r["count"] for r in rows), default=0)
    total = sum(r["count"] for r in rows) or 1
    t = _grid()
    for r in rows:
        n = r["count"]
        t.add_row(_level_name(r), f"{n:,}",
                  bar(n, top, width, _colour(GRADE_STYLE.get(r["grade"], "dim"))) + Text(f" {n / total:.0%}", style="dim"))
    return t if rows else Text("No reviews yet.", style="dim")


def gate_funnel(funnel: dict[str, dict[str, int]], width: int) -> Any:
    gates = [g for g in GATE_ORDER if g in funnel] + [g for g in funnel if g not in GATE_ORDER]
    totals = {g: sum(funnel[g].values()) for g in gates}
    top = max(totals.values(), default=0)
    t = _grid()
    for g in gates:
        parts = [(funnel[g].get(s, 0), _colour(STATUS_STYLE.get(s, "white"))) for s in STATUS_ORDER]
        parts += [(n, "white") for s, n in funnel[g].items() if s not in STATUS_ORDER]
        t.add_row(g.lower(), f"{totals[g]:,}", stacked_bar(parts, top, width))
    legend = Text("\n")
    for s in STATUS_ORDER:
        legend.append("■", style=_colour(STATUS_STYLE[s]))
        legend.append(f" {s.replace('_', ' ').lower()}  ")
    return Group(t, legend) if gates else Text("No reviews yet.", style="dim")


def overdue(data: dict[str, Any], width: int) -> Any:
    head = Text()
    head.append(f"{data['total']:,}", style="bold red" if data["total"] else "bold green")
    head.append(f" of {data['open']:,} open reviews are past their committee SLA\n")
    rank = {g: i for i, g in enumerate(GRADE_ORDER)}
    # per grade as each pack names it; a server without ``by_level`` gives the grades alone
    levels = data.get("by_level") or [{"grade": g, "label": g, "count": n} for g, n in data["by_grade"].items()]
    rows = sorted(levels, key=lambda r: (rank.get(r["grade"], len(rank)), r["grade"], r.get("label") or ""))
    top = max((r["count"] for r in rows), default=0)
    t = _grid()
    for r in rows:
        t.add_row(_level_name(r), f"{r['count']:,}", bar(r["count"], top, width, "red"))
    return Group(head, t)
