"""Renderables for the review workspace: profile, questionnaire, scores, controls, history.

Pure functions from ``services.queries.ReviewDetail`` pieces to Rich renderables, so the
workspace screen stays small and these are easy to test.
"""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from tui.format import GRADE_STYLE, bar, due_text, grade_badge, plain, status_text, when

LEVEL_MAX = {"LOW": 1, "MEDIUM": 2, "HIGH": 3, "UNACCEPTABLE": 4}


def _kv(rows: list[tuple[str, Any]]) -> Table:
    t = Table.grid(padding=(0, 1))
    t.add_column(style="bold", no_wrap=True)
    t.add_column()
    for k, v in rows:
        t.add_row(k, v if isinstance(v, Text) else plain(v))
    return t


def header(detail: Any, now: Any) -> Text:
    r, p = detail.review, detail.product
    t = Text()
    t.append(f"Review {r['id']}  ", style="bold")
    t.append_text(plain(p.get("name", "?"), style="bold underline"))
    t.append(f"   {r['gate'].lower()} · ")
    t.append_text(status_text(r["status"]))
    t.append("  ")
    t.append_text(grade_badge(r["grade"]))
    if r.get("grade_label") and r["grade_label"] != r["grade"]:
        t.append_text(plain(f" {r['grade_label']}", style="bold"))  # what the grade is called under the review's pack
    t.append_text(plain(f"  assignee {r['assignee'] or '-'}  due "))
    t.append_text(due_text(r["due_at"], r["status"], now))
    t.append(f"  v{r['version']}", style="dim")
    return t


def profile(detail: Any) -> Table:
    p = detail.product

    def join(key: str) -> str:
        v = p.get(key) or []
        return ", ".join(v) if isinstance(v, list) else str(v)

    return _kv([
        ("team", p.get("owner_team", "-")), ("business", p.get("business_line", "-")),
        ("users", join("intended_users")), ("data", join("data_categories")),
        ("capabilities", join("capabilities") or "-"), ("regions", join("deployment_regions")),
        ("about", p.get("description") or "-"),
    ])


def answers(detail: Any, questions: dict[str, str], labels: dict[tuple[str, str], str]) -> Any:
    if not detail.assessments or not detail.assessments[0].get("answers"):
        return Text("No questionnaire answers stored.", style="dim")
    t = Table(show_header=False, box=None, padding=(0, 1), expand=True)
    t.add_column(ratio=3)
    t.add_column(ratio=2, style="cyan")
    for q, values in in_pack_order(detail.assessments[0]["answers"], questions):
        t.add_row(plain(questions.get(q, q)), plain(", ".join(labels.get((q, v), v) for v in values)))
    return t


def scores(detail: Any, width: int = 24) -> Any:
    if not detail.assessments:
        return Text("Not graded yet.", style="dim")
    a = detail.assessments[-1]
    top = max([float(v) for v in a["dimension_scores"].values()] + [1.0])
    t = Table(show_header=True, box=None, padding=(0, 1), header_style="bold")
    t.add_column("dimension", no_wrap=True)
    t.add_column("score", justify="right")
    t.add_column("", width=width, no_wrap=True)
    t.add_column("level")
    for dim, score in by_risk(a["dimension_scores"]):
        level = a["dimension_levels"].get(dim)
        style = (GRADE_STYLE.get(level or "", "") or "").split(" on ")[-1]
        t.add_row(plain(dim), f"{float(score):g}", bar(float(score), top, width, style), grade_badge(level))
    summary = Text()
    summary.append(f"{a['kind']} assessment · pack {a['pack_id']}@{a['pack_version']} #{a['pack_hash'][:12]}\n", style="dim")
    summary.append("base ")
    summary.append_text(grade_badge(a["base_grade"]))
    summary.append(" → grade ")
    summary.append_text(grade_badge(a["grade"]))
    if a.get("rationale"):
        summary.append_text(plain(f"  override: {a['rationale']}", style="italic"))
    trig = a.get("triggers_fired") or []
    summary.append("\ntriggers fired: ", style="bold")
    summary.append(", ".join(trig) if trig else "none", style="red" if trig else "dim")
    return Group(t, summary)


def in_pack_order(answers: dict[str, Any], questions: dict[str, str]) -> list[tuple[str, Any]]:
    """Answers in the questionnaire's order (stored JSON keeps no order), unknown questions last."""
    rank = {q: i for i, q in enumerate(questions)}
    return sorted(answers.items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0]))


def by_risk(scores: dict[str, Any]) -> list[tuple[str, Any]]:
    """Dimensions with the highest score first (then by name)."""
    return sorted(scores.items(), key=lambda kv: (-float(kv[1]), kv[0]))


def frameworks(detail: Any) -> Any:
    """Per framework the organisation tracks, how many of its obligations the review's verified evidence meets, and
    which (the same data ``show`` and the dossier list: ``ReviewDetail.frameworks``)."""
    tracked = getattr(detail, "frameworks", None) or []
    if not tracked:
        return Text("No other framework is tracked for this review's pack.", style="dim")
    t = Table(box=None, padding=(0, 1), header_style="bold", expand=True)
    t.add_column("framework", no_wrap=True)
    t.add_column("met", justify="right", no_wrap=True)
    t.add_column("obligations met by verified evidence", ratio=3)
    for f in tracked:
        met = f.get("met") or []
        name = plain(f"{f['framework']} {f.get('version', '')}".strip(), style="bold")
        count = Text(f"{len(met)}/{f['obligations']}", style="green" if met else "dim")
        if not met:
            t.add_row(name, count, Text("none yet: no verified control maps to it", style="dim"))
            continue
        for i, m in enumerate(met):
            line = plain(f"{m['obligation']} {m['title']}")
            line.append_text(plain(f"  by {', '.join(m['controls'])}", style="dim"))
            t.add_row(name if i == 0 else Text(""), count if i == 0 else Text(""), line)
    return t


def decisions(detail: Any) -> Any:
    if not detail.decisions:
        return Text("No decisions yet.", style="dim")
    t = Table(box=None, padding=(0, 1), header_style="bold", expand=True)
    for c in ("when", "gate", "decision", "by", "rationale"):
        t.add_column(c, ratio=3 if c == "rationale" else None, no_wrap=c != "rationale")
    for d in detail.decisions:
        t.add_row(when(d["created_at"]), plain(d["gate"].lower()), plain(d["action"]), plain(d["actor"]), plain(d["rationale"]))
    return t


def trail(detail: Any, limit: int = 30) -> Any:
    if not detail.trail:
        return Text("No audit rows.", style="dim")
    t = Table(box=None, padding=(0, 1), header_style="bold", expand=True)
    for c in ("#", "when", "actor", "action", "change"):
        t.add_column(c, no_wrap=c != "change", ratio=3 if c == "change" else None)
    for row in detail.trail[-limit:]:
        t.add_row(str(row["id"]), when(row["at"]), plain(row["actor"]), plain(row["action"]), plain(_change(row.get("before"), row.get("after"))))
    return t


def _change(before: Any, after: Any) -> str:
    if not isinstance(after, dict):
        return ""
    before = before if isinstance(before, dict) else {}
    parts = [f"{k}: {before.get(k)} → {after[k]}" for k in ("gate", "status", "grade", "assignee") if k in after and before.get(k) != after[k]]
    if after.get("rationale"):
        parts.append(f"“{after['rationale']}”")
    return "; ".join(parts)
