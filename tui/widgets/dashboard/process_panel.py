"""The dashboard's process card: the six dimensions of `ethics-review report process` (the last 90 days),
each with its headline figures, and the per-gate cycle time and SLA adherence as bars."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text

from tui.format import bar

#: the figures shown per dimension (the report has more; `report process` prints them all)
HEADLINES: dict[str, tuple[str, ...]] = {
    "theoretical_research": ("packs in use", "oldest pack version (days)", "keyword library age (days)"),
    "organisational_support": ("committee members (reviewers and chairs)", "open reviews waiting for the committee", "open reviews nobody holds",
                               "conflicts declared (recusals)"),
    "mechanism_guarantee": ("gate cycles decided", "within SLA %", "open reviews past their SLA now", "overrides lowering the grade",
                            "refused attempts (role, segregation, recusal)"),
    "technical_support": ("content audits run", "audit verdicts: pass", "audit verdicts: fail", "evidence files received"),
    "external_communication": ("feedback received", "median hours to triage", "waiting for triage", "notifications failed to deliver"),
    "continuous_tracking": ("follow-ups due in the period", "closed on time %", "overdue now", "reopen rate %"),
}
SHORT = {"committee members (reviewers and chairs)": "committee members", "refused attempts (role, segregation, recusal)": "refused attempts",
         "open reviews waiting for the committee": "open, waiting", "open reviews nobody holds": "open, nobody holds",
         "conflicts declared (recusals)": "recusals", "open reviews past their SLA now": "past SLA now",
         "overrides lowering the grade": "overrides lowering", "notifications failed to deliver": "notifications failed",
         "follow-ups due in the period": "follow-ups due", "oldest pack version (days)": "oldest pack (days)",
         "keyword library age (days)": "library age (days)"}


def _value(v: Any) -> str:
    return "-" if v is None else f"{v:,}" if isinstance(v, int) else str(v)


def _block(dim: dict[str, Any], width: int) -> Text:
    t = Text(dim["title"] + "\n", style="bold")
    figures = dim["figures"]
    for k in HEADLINES.get(dim["key"], tuple(figures)[:4]):
        if k in figures:
            label = SHORT.get(k, k)
            t.append(f"{label[:width - 8]:<{width - 8}}", style="dim")
            t.append(f"{_value(figures[k]):>7}\n")
    if dim["key"] == "mechanism_guarantee":
        rows = next((x["rows"] for x in dim["tables"] if x["title"].startswith("Cycle time per gate")), [])
        top = max((r[2] or 0 for r in rows), default=0)
        for gate, _n, median, _p90, within in rows:
            t.append(f"{gate[:4].lower():<5}", style="dim")
            t.append_text(bar(float(median or 0), float(top), max(4, width - 22), "cyan"))
            t.append(f" {_value(median)}d {_value(within)}%\n", style="dim")
    return t


def render(data: dict[str, Any] | str | None, width: int) -> Any:
    """The dimension blocks side by side, as many a row as ``width`` (the card's) holds: 3, 2 or 1; a string is
    the reason the figures are not shown (e.g. a person outside the committee)."""
    if data is None:
        return Text("loading…", style="dim")
    if isinstance(data, str):
        return Text(data, style="dim")
    per_row = 3 if width >= 114 else 2 if width >= 70 else 1
    g = Table.grid(padding=(0, 3), expand=True)
    for _ in range(per_row):
        g.add_column(ratio=1)
    blocks = [_block(d, min(44, width // per_row - 3)) for d in data["dimensions"]]
    for i in range(0, len(blocks), per_row):
        g.add_row(*blocks[i:i + per_row])
    return g
