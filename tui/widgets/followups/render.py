"""Pure rendering of follow-up checks: the list's cells and one check's visits and answers.

Works on the dicts of ``review.services.followups`` (``list_checks`` / ``show_check``);
questions go through ``followups.question_parts`` so old rows (plain text) render too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.text import Text

from review.client.types import question_parts
from tui.format import plain, sanitized

CHECK_STYLE = {"SCHEDULED": "dim", "OPEN": "bold cyan", "COMPLETED": "green", "TRIGGERED": "bold red", "CANCELLED": "dim strike"}
FINDING_TEXT = {"none": ("no finding", "green"), "new_risk": ("new risk (reopens at INITIATION)", "bold red"),
                "failed_control": ("failed control (reopens at DEVELOPMENT)", "bold red")}


def parse_time(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def status_text(status: str) -> Text:
    return Text(status.lower(), style=CHECK_STYLE.get(status, ""))


def due_cell(row: dict[str, Any], now: datetime) -> Text:
    due = parse_time(row["due_at"])
    if due is None:
        return Text("-", style="dim")
    label = f"{due:%Y-%m-%d}"
    if row["status"] not in ("SCHEDULED", "OPEN"):
        return Text(label, style="dim")
    days = (due.date() - now.date()).days
    if row.get("overdue"):
        return Text(f"{label} overdue {-days}d" + (" ⚑" if row.get("escalated") else ""), style="bold red")
    if due <= now:
        return Text(f"{label} due", style="bold yellow")
    return Text(f"{label} in {days}d")


def finding_text(finding: str | None) -> Text:
    if not finding:
        return Text("-", style="dim")
    text, style = FINDING_TEXT.get(finding, (finding, ""))
    return Text(text, style=style)


def derive_finding(questionnaire: list[Any], answers: dict[str, str], controls: list[str]) -> str | None:
    """The finding the service derives from the adverse answers (None while questions are unanswered).

    Mirrors ``followups.parse_answers`` with no explicit finding: an adverse answer to an
    INITIATION question is a new risk; otherwise one to a DEVELOPMENT question is a failed
    control.
    """
    adverse = []
    for i, q in enumerate(questionnaire):
        _text, bad, reopen_at = question_parts(q)
        value = answers.get(f"q{i + 1}")
        if value is None:
            return None
        if value == bad:
            adverse.append(reopen_at)
    if not adverse:
        return "none"
    return "new_risk" if "INITIATION" in adverse else "failed_control"


def question_line(index: int, q: Any, answer: str | None, *, current: bool = False) -> Text:
    """``q1 Text?  yes`` with an adverse answer marked (and where it would reopen the review)."""
    text, bad, reopen_at = question_parts(q)
    t = Text("▶ " if current else "  ", style="bold")
    t.append(f"q{index + 1} ", style="bold")
    t.append(text)
    t.append("  ")
    if answer is None:
        t.append(" ? ", style="reverse dim")
    elif answer == bad:
        t.append(f" {answer} ", style="bold white on red3")
        t.append(f" adverse: reopens at {reopen_at}", style="red")
    else:
        t.append(f" {answer} ", style="bold black on green")
    return sanitized(t)


def check_detail(d: dict[str, Any], now: datetime) -> Text:
    """One check: status, due, finding, the content re-audit request, then each visit with its answers."""
    t = Text()
    t.append(f" Check {d['id']} ", style="bold reverse")
    t.append(f" {d['product']} ", style="bold")
    t.append(f" review {d['review_id']} · #{d['sequence']} {d['kind']} · grade ")
    t.append_text(plain(_grade_name(d)))
    t.append("\n")
    t.append("Status ")
    t.append_text(status_text(d["status"]))
    t.append(f" · due {parse_time(d['due_at']):%Y-%m-%d}")
    if d.get("opened_at"):
        t.append(f" · opened {parse_time(d['opened_at']):%Y-%m-%d}")
    if d.get("closed_at"):
        t.append(f" · closed {parse_time(d['closed_at']):%Y-%m-%d}")
    if d.get("escalated_at"):
        t.append(f" · escalated to the chair {parse_time(d['escalated_at']):%Y-%m-%d}", style="bold red")
    t.append("\nFinding ")
    t.append_text(finding_text(d.get("finding")))
    if d.get("feedback_id"):
        t.append(f" · ad hoc, from external feedback {d['feedback_id']}", style="dim")
    t.append("\nContent re-audit ")
    ra = d.get("content_reaudit")
    if ra is None:
        t.append("not requested", style="dim")
    else:
        t.append(f" {ra['status'].lower()} ", style="black on yellow" if ra["status"] == "PENDING" else "black on green")
        t.append(f" request {ra['id']}: {ra['reason']}")
    visits = d.get("visits") or []
    recorded = sum(1 for v in visits if v["status"] == "RECORDED")
    t.append(f"\n\nVisits ({recorded} of {len(visits)} recorded)\n", style="bold")
    if not visits:
        t.append("No visits planned yet: the nightly scan plans them when the check falls due.", style="dim")
    for v in visits:
        t.append("\n")
        t.append(f"● {v['customer']}", style="bold")
        if v["status"] == "RECORDED":
            t.append(f"  recorded by {v['recorded_by']} on {parse_time(v['recorded_at']):%Y-%m-%d}", style="dim")
            t.append("  ")
            t.append_text(finding_text(v.get("finding")))
        else:
            t.append(f"  {v['status'].lower()}", style="yellow")
        t.append("\n")
        answers = v.get("answers") or {}
        for i, q in enumerate(v.get("questionnaire") or []):
            if v["status"] == "RECORDED":
                t.append_text(question_line(i, q, answers.get(f"q{i + 1}")))
            else:
                text, bad, _ = question_parts(q)
                t.append(f"  q{i + 1} {text}", style="dim")
                t.append(f"  (adverse: {bad})", style="dim italic")
            t.append("\n")
        if v.get("notes"):
            t.append("  Notes: ", style="bold")
            t.append(f"{v['notes']}\n")
    t.rstrip()
    return sanitized(t)


def _grade_name(d: dict[str, Any]) -> str:
    """The check's grade as the review's pack names it ("Level IV (very high impact)"), the grade itself by default."""
    label = d.get("grade_label")
    return f"{d['grade']} ({label})" if label and label != d["grade"] else str(d["grade"])
