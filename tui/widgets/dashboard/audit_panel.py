"""The dashboard's "Audit pass rates" card: per recent audit run, the spot-check pass rate, its
Wilson interval against the threshold, and the verdict badge.

Registered (``PANEL``) by the spot-check screen's module; ``load`` runs in the dashboard's
worker thread, ``render`` on the UI thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text

from tui.registry import DashboardPanel
from tui.widgets.spotcheck.render import interval_bar, rate_text, verdict_badge

RECENT_RUNS = 8


@dataclass(frozen=True)
class RunRate:
    run_id: int
    product: str
    status: str
    verdict: Any | None  # content_report.VerdictView (None before the sample is drawn)


def load(client: Any) -> list[RunRate]:
    out = []
    for run, product in client.list_audits(limit=RECENT_RUNS):
        v = client.audit_verdict(run.id) if run.status == "SCANNED" else None
        out.append(RunRate(run.id, product, run.status, v))
    return out


def render(rows: list[RunRate] | None, width: int) -> Any:
    """Two lines per run: run, product, labelled, verdict badge; then the rate, its interval and a bar."""
    if not rows:
        return Text("No content audits yet.\nStart one with `ethics-review audit run FILE --product NAME`,\n"
                    "then label its spot-check sample on screen 3.", style="dim")
    t = Text()
    for r in rows:
        v = r.verdict
        t.append(f"#{r.run_id} ", style="bold")
        t.append(r.product[:32])
        if v is None:
            t.append(f"  {r.status.lower()}: sample not drawn yet\n\n", style="dim")
            continue
        t.append(f"  {v.labelled}/{v.items} labelled  ", style="dim")
        t.append_text(verdict_badge(v))
        t.append("\n   ")
        if v.labelled:
            t.append_text(interval_bar(v, min(width, 24)))
            t.append(" ")
        t.append_text(rate_text(v))
        t.append("\n")
    t.append("━ Wilson interval (green: its lower bound clears the threshold) ┃ threshold ● pass rate", style="dim")
    return t


PANEL = DashboardPanel("audit-pass-rates", "Audit pass rates", load, render)
