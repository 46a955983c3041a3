"""Terminal charts for the dashboard (Rich tables of bars; no plotting dependency)."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from tui.format import GATE_ORDER, GRADE_ORDER, GRADE_STYLE, STATUS_STYLE, bar, stacked_bar

STATUS_ORDER = ("DRAFT", "SUBMITTED", "IN_REVIEW", "CHANGES_REQUESTED", "APPROVED", "REJECTED")


def _colour(style: str) -> str:
    return style.split(" on ")[-1] if " on " in style else (style.split()[-1] if style else "white")


def _grid() -> Table:
    t = Table.grid(padding=(0, 1))
    t.add_column(no_wrap=True, min_width=14)
    t.add_column(justify="right", min_width=8)
    t.add_column(no_wrap=True)
    return t


def grade_distribution(counts: dict[str, int], width: int) -> Any:
    keys = [g for g in GRADE_ORDER if g in counts] + [k for k in counts if k not in GRADE_ORDER]
    top = max(counts.values(), default=0)
    total = sum(counts.values()) or 1
    t = _grid()
    for g in keys:
        n = counts[g]
        t.add_row(g.lower(), f"{n:,}", bar(n, top, width, _colour(GRADE_STYLE.get(g, "dim"))) + Text(f" {n / total:.0%}", style="dim"))
    return t if keys else Text("No reviews yet.", style="dim")


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
    by_grade = data["by_grade"]
    top = max(by_grade.values(), default=0)
    t = _grid()
    for g in [g for g in GRADE_ORDER if g in by_grade] + [g for g in by_grade if g not in GRADE_ORDER]:
        t.add_row(g.lower(), f"{by_grade[g]:,}", bar(by_grade[g], top, width, "red"))
    return Group(head, t)
