"""Pure rendering for spot-check labelling: highlighted spans, labels, progress, run rows.

Rich ``Text`` only (no Textual, no database): unit-testable, shared by the labelling screen
and the dashboard's audit panel. Items and verdicts are the objects of
``review.services.content_audit`` (read by attribute only).
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

from rich.text import Text

from review.text import visible
from tui.format import bar, sanitized

#: Highlight of a matched span by severity (0-7). Whole-text classifier spans are underlined instead.
SEVERITY_STYLE = {
    0: "black on grey70", 1: "black on grey70", 2: "black on khaki1", 3: "black on yellow",
    4: "black on dark_orange", 5: "bold white on dark_orange3", 6: "bold white on red3", 7: "bold white on magenta",
}
SEVERITY_COLOUR = {0: "grey70", 1: "grey70", 2: "khaki1", 3: "yellow", 4: "dark_orange", 5: "dark_orange3", 6: "red3", 7: "magenta"}
VERDICT_STYLE = {"pass": "bold green", "violation": "bold red"}


def severity_style(severity: int, scanner: str = "") -> str:
    sev = max(0, min(7, int(severity)))
    if scanner.startswith("classifier"):
        return f"underline {SEVERITY_COLOUR[sev]}"
    return SEVERITY_STYLE[sev]


def highlight(text: str, spans: Iterable[Any]) -> Text:
    """``text`` with each span (start/end index the original text) styled by its severity.

    Overlaps: lower severities are applied first, so the most severe style wins where spans
    overlap; out-of-range spans are clipped rather than trusted.
    """
    out = Text(visible(text or ""))  # same length as ``text``: the spans still index it
    if not text:
        out = Text("(empty)", style="dim italic")
        return out
    n = len(text)
    for sp in sorted(spans, key=lambda s: (not s.scanner.startswith("classifier"), s.severity, s.start)):
        start, end = max(0, min(n, sp.start)), max(0, min(n, sp.end))
        if end > start:
            out.stylize(severity_style(sp.severity, sp.scanner), start, end)
    return out


def field_text(item: Any, field: str) -> str:
    """The scanned text of a field (the service's ItemView knows how metadata was rendered)."""
    return item.field_text(field)


def spans_for(item: Any, field: str) -> list[Any]:
    return [sp for sp in item.spans if sp.field == field]


def findings(item: Any) -> Text:
    """One line per span: field, category, severity, scanner, matched text."""
    if not item.spans:
        return Text("The filter flagged nothing in this record.", style="dim")
    t = Text()
    for sp in item.spans:
        t.append(f"{sp.field:<8} ", style="dim")
        t.append(f" sev {sp.severity} ", style=severity_style(sp.severity))
        t.append(f" {sp.category}", style="bold")
        t.append(f"  {sp.scanner}  ", style="dim")
        t.append(repr(sp.matched[:60]))
        t.append("\n")
    t.rstrip()
    return sanitized(t)


def label_text(label: Any | None, *, empty: str = "not labelled yet") -> Text:
    if label is None:
        return Text(empty, style="dim")
    t = Text(label.verdict, style=VERDICT_STYLE.get(label.verdict, ""))
    if label.verdict == "violation":
        t.append(f"  {label.category}  severity {label.severity}")
    if getattr(label, "round", 1) == 2:
        t.append("  (second review)", style="cyan")
    if label.note:
        t.append(f"  · {label.note}", style="dim")
    return sanitized(t)


def labels(item: Any, *, blind: bool, text_of: Callable[[Any], Text] | None = None, stratum: bool = True) -> Text:
    """Your label, then the other reviewers' by round (hidden when blind), then the stratum (not when blind).
    ``text_of``: how one label reads (default: an audit label's ``label_text``); ``stratum``: whether to add it."""
    text_of = text_of or label_text
    t = Text("You: ", style="bold")
    t.append_text(text_of(item.my_label))
    t.append("\n")
    if blind:
        t.append("Other reviewers: hidden (blind review)", style="dim italic")
    elif item.other_labels:
        for lab in sorted(item.other_labels, key=lambda x: getattr(x, "round", 1)):
            t.append(f"{lab.reviewer}: ", style="bold")
            t.append_text(text_of(lab))
            t.append("\n")
        t.rstrip()
    else:
        t.append("Other reviewers: none yet", style="dim")
    if stratum and not blind and item.stratum:
        t.append(f"\nStratum: {item.stratum}", style="dim")
    return sanitized(t)


def verdict_badge(v: Any | None) -> Text:
    """PASS / FAIL (green/red), provisional while labelling goes on, or NOT LABELLED."""
    if v is None or not v.labelled:
        return Text(" NOT LABELLED ", style="dim reverse")
    word = "PASS" if v.passed else "FAIL"
    style = "bold black on green" if v.passed else "bold white on red3"
    if not v.complete:
        return Text(f" {word}? ", style=style) + Text(" provisional", style="dim")
    return Text(f" {word} ", style=style)


def rate_text(v: Any | None) -> Text:
    """``83.3% (95% Wilson 55.2%-95.3%)`` or ``-``."""
    if v is None or not v.labelled:
        return Text("-", style="dim")
    t = Text(f"{v.rate:.1%}", style="bold")
    t.append(f" ({v.confidence:.0%} Wilson {v.lower:.1%}-{v.upper:.1%})", style="dim")
    return t


def progress(v: Any | None, *, shown: int, position: int) -> Text:
    """The progress line of the labelling view."""
    t = Text()
    if v is None:
        return Text("loading…", style="dim")
    t.append(f"labelled {v.labelled}/{v.items}", style="bold")
    t.append(" ")
    t.append_text(bar(v.labelled, v.items or 1, 12, "green"))
    t.append(" · pass rate ")
    t.append_text(rate_text(v))
    t.append(f" · threshold {v.threshold:.0%}" + (" (lower bound clears)" if v.lower_clears else ""))
    t.append(" · ")
    t.append_text(verdict_badge(v))
    if v.pairs:
        kappa = "-" if v.kappa is None else f"{v.kappa:.2f}"
        t.append(f" · kappa {kappa} over {v.pairs} ({v.disagreements} disagree)", style="dim")
    waiting = getattr(v, "awaiting_adjudication", None)
    if waiting:
        t.append(f" · {len(waiting)} wait for a third reviewer (a): {', '.join(map(str, waiting[:8]))}", style="bold yellow")
    t.append(f"   item {position} of {shown} shown", style="dim")
    return t


def interval_bar(v: Any, width: int) -> Text:
    """The Wilson interval as a bar on 0-100%, the rate as a tick, the threshold as a '|'."""
    cells = [" "] * width
    styles = [""] * width

    def at(x: float) -> int:
        return max(0, min(width - 1, int(round(x * (width - 1)))))

    lo, hi = at(v.lower), at(v.upper)
    for i in range(lo, hi + 1):
        cells[i], styles[i] = "━", ("green" if v.lower_clears else "yellow")
    cells[at(v.threshold)], styles[at(v.threshold)] = "┃", "bold"
    cells[at(v.rate)], styles[at(v.rate)] = "●", "bold"
    t = Text()
    for c, s in zip(cells, styles, strict=True):
        t.append(c, style=s)
    return t
