"""Pure rendering for the manual spot check of a model evaluation run: labels, the verdict's state, progress.

Rich ``Text`` only (no Textual, no database): unit-testable. Items and verdicts are the objects of
``review.services.eval_spot`` (``EvalItemView``, ``EvalSpotView``; read by attribute only). The pass rate with its
Wilson interval is rendered as the content audit's is (``tui.widgets.spotcheck.render.rate_text``).
"""

from __future__ import annotations

from typing import Any

from rich.text import Text

from tui.format import bar, plain, sanitized
from tui.widgets.spotcheck.render import labels as spot_labels, rate_text

#: the labelling keys: one per (safety, refusal), the commonest first
LABEL_KEYS: dict[str, tuple[str, str]] = {"1": ("safe", "complied"), "2": ("safe", "refused"), "3": ("unsafe", "complied"),
                                          "4": ("unsafe", "refused")}
SAFETY_STYLE = {"safe": "bold green", "unsafe": "bold red"}
STATE_STYLE = {"met": "bold black on green", "NOT MET": "bold white on red3", "awaiting adjudication": "bold black on yellow",
               "in progress": "black on grey70", "no sample": "dim reverse"}
ROUND = {2: "second review", 3: "adjudication"}

__all__ = ["LABEL_KEYS", "answer_text", "auto_checks", "key_legend", "label_text", "labels", "progress", "rate_text", "state", "state_badge"]


def state(v: Any | None) -> str:
    """The check's state as ``eval show`` words it: in progress, awaiting adjudication, met or NOT MET (or no sample)."""
    return "no sample" if v is None or not v.sampled else str(v.state)


def state_badge(v: Any | None) -> Text:
    word = state(v)
    return Text(f" {word} ", style=STATE_STYLE[word])


def label_text(label: Any | None, *, empty: str = "not labelled yet") -> Text:
    """``safe, complied`` (coloured by safety), the round when not the first, the note."""
    if label is None:
        return Text(empty, style="dim")
    t = Text(label.safety, style=SAFETY_STYLE.get(label.safety, ""))
    t.append(f", {label.refusal}", style="bold")
    if label.round in ROUND:
        t.append(f"  ({ROUND[label.round]})", style="cyan")
    if label.note:
        t.append(f"  · {label.note}", style="dim")
    return sanitized(t)


def labels(item: Any, *, blind: bool) -> Text:
    """Your label, then the other reviewers' (hidden when blind), as the spot-check screen lists them."""
    return spot_labels(item, blind=blind, text_of=label_text, stratum=False)  # the bank and risk are in the header


def auto_checks(item: Any) -> Text:
    """What the run's automatic checks said of the answer (only read when not blind)."""
    if item.auto_unsafe is None and item.auto_refused is None:
        return Text("hidden (blind review)", style="dim italic")
    t = Text("content filter: ")
    t.append("unsafe" if item.auto_unsafe else "safe", style=SAFETY_STYLE["unsafe" if item.auto_unsafe else "safe"])
    if item.categories:
        t.append(f" ({', '.join(item.categories)})", style="dim")
    t.append(" · refusal detector: ")
    t.append("refused" if item.auto_refused else "complied", style="bold")
    t.append(f"\nstratum {item.stratum}" if item.stratum else "", style="dim")
    return sanitized(t)


def key_legend() -> Text:
    t = Text()
    for key, (safety, refusal) in LABEL_KEYS.items():
        t.append(f" {key} ", style="bold reverse")
        t.append(f" {safety}", style=SAFETY_STYLE[safety])
        t.append(f", {refusal}   ")
    t.rstrip()
    return t


def progress(v: Any | None, *, shown: int, position: int) -> Text:
    """The progress line of the labelling view: labelled, pass rate with its interval against the bar, the state,
    kappa when two reviewers labelled the same answers, the items waiting for a third reviewer."""
    if v is None:
        return Text("loading…", style="dim")
    t = Text()
    t.append(f"labelled {v.labelled}/{v.items}", style="bold")
    t.append(" ")
    t.append_text(bar(v.labelled, v.items or 1, 12, "green"))
    t.append(" · pass rate (safe) ")
    t.append_text(rate_text(v))
    t.append(f" · bar {v.threshold:.0%} · ")
    t.append_text(state_badge(v))
    if v.pairs:
        ks, kr = ("-" if k is None else f"{k:.2f}" for k in (v.kappa_safety, v.kappa_refusal))
        t.append(f" · kappa safety {ks} refusal {kr} over {v.pairs} ({v.disagreements} disagree)", style="dim")
    if v.awaiting_adjudication:
        waiting = v.awaiting_adjudication
        t.append(f" · {len(waiting)} awaiting adjudication (a): {', '.join(map(str, waiting[:8]))}", style="bold yellow")
    t.append(f"   item {position} of {shown} shown", style="dim")
    return t


def answer_text(text: str) -> Text:
    """The question or the model's answer: plain text (never markup; control characters made visible)."""
    return plain(text) if text else Text("(empty)", style="dim italic")
