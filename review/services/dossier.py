"""A review's dossier: everything an auditor asks about one review, in one document (Markdown or HTML).

The profile and answers; the dimension scores, levels and how the grade was reached (triggers, overrides);
the pack with its version and content hash; the controls with their evidence hashes and verdicts; the
decisions; the stored gate reports; the follow-up checks and visits; the product's content audits; the
audit-trail excerpt for the review; and the chain's state (its head and the last signed checkpoint).
Untrusted text (names, answers, rationales, file names) is escaped for the format: no markup, links or
control characters get through.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Sequence, cast

import sqlalchemy as sa
from sqlmodel import col, select

from policies.crosswalk import coverage, verified_evidence
from review.services.content_report import html_page, html_table, hx, md, md_table
from review.services.queries import ReviewDetail, _jsonable, show_review
from review.store.db import Database
from review.store.models import AuditCheckpoint, AuditHead
from review.store.models_content import AuditRun
from review.store.models_eval import EvalRun
from review.store.models_followup import FollowupCheck, FollowupVisit


@dataclass
class Dossier:
    detail: ReviewDetail
    gate_reports: list[dict[str, Any]]
    followups: list[dict[str, Any]]
    audits: list[dict[str, Any]]
    chain: dict[str, Any]
    #: Per tracked framework: its obligations and those the review's verified controls meet (``framework_coverage``).
    frameworks: list[dict[str, Any]] = field(default_factory=list)
    #: The model evaluations run for this review (``eval run``): the model, the banks and the rates against their bars.
    evals: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return _jsonable({**asdict(self), "detail": self.detail.to_json()})


def dossier(db: Database, review_id: Any, *, frameworks: Sequence[str] | None = None) -> Dossier:
    """``frameworks``: the frameworks to report on (default: ``policies.crosswalk.tracked_frameworks`` from the settings)."""
    detail = show_review(db, review_id)
    rid, product_id = detail.review["id"], detail.product["id"]
    with db.reading() as s:
        checks = list(s.exec(select(FollowupCheck).where(FollowupCheck.review_id == rid).order_by(col(FollowupCheck.id))))
        visits: dict[int, list[dict[str, Any]]] = {}
        if checks:
            for v in s.exec(select(FollowupVisit).where(col(FollowupVisit.check_id).in_([c.id for c in checks]))
                            .order_by(col(FollowupVisit.id))):
                visits.setdefault(v.check_id, []).append(v.model_dump(mode="json", include={"customer", "status", "finding", "notes",
                                                                                           "recorded_by", "recorded_at"}))
        followups = [{**c.model_dump(mode="json", include={"id", "kind", "status", "due_at", "finding", "closed_at"}),
                      "visits": visits.get(cast(int, c.id), [])} for c in checks]  # loaded rows: ids are set
        audits = [r.model_dump(mode="json", include={"id", "status", "records", "flagged_records", "findings", "sample_size",
                                                     "pack_id", "pack_version", "started_by", "created_at", "finished_at",
                                                     "control_id", "verdict", "verdict_at"})
                  for r in s.exec(select(AuditRun).where(AuditRun.product_id == product_id).order_by(col(AuditRun.id)))]
        evals = [{**e.model_dump(mode="json", include={"id", "status", "model", "bank", "answered", "pack_id", "pack_version",
                                                        "started_by", "created_at", "finished_at"}),
                  "questions": len(e.items or []), "bars": (e.results or {}).get("bars", [])}
                 for e in s.exec(select(EvalRun).where(EvalRun.review_id == rid).order_by(col(EvalRun.id)))]
        head = s.get(AuditHead, 1)
        last = s.execute(sa.select(col(AuditCheckpoint.head_id), col(AuditCheckpoint.at), col(AuditCheckpoint.key_id))
                         .order_by(col(AuditCheckpoint.id).desc()).limit(1)).first()
    chain = {"head_id": head.last_id if head else 0, "head_hash": head.last_hash if head else None,
             "checkpoint": {"head_id": last.head_id, "at": last.at.isoformat(), "key_id": last.key_id} if last else None}
    met = detail.frameworks if frameworks is None else coverage(detail.review["policy_id"], verified_evidence(detail.controls), "", frameworks)
    return Dossier(detail, detail.gate_reports, followups, audits, chain, met, evals)


# ---- rendering ---------------------------------------------------------------------------------
def _named(grade: str | None, label: str | None) -> str | None:
    """A grade as the review's pack names it, the grade beside it when the names differ: "Level IV (very high impact)
    (UNACCEPTABLE)"; the grade alone under the default pack."""
    return f"{label} ({grade})" if grade and label and label != grade else grade


def _labeller(pack_id: str) -> Any:
    """``grade -> _named(grade, its label under pack_id)`` (the grades alone when the pack is gone)."""
    from policies.loader import load_pack
    from review.errors import ReviewError

    try:
        pack = load_pack(pack_id).pack
    except ReviewError:
        return lambda g: g
    return lambda g: _named(g, pack.label(g)) if g else g


def _sections(d: Dossier) -> list[tuple[str, list[str], list[list[Any]]]]:
    """(title, columns, rows) of every table, shared by both formats (cells are raw values, escaped when written)."""
    r, p = d.detail.review, d.detail.product
    initiation = next((a for a in reversed(d.detail.assessments) if a["kind"] == "initiation"), None)
    label = _labeller(r["policy_id"])
    out: list[tuple[str, list[str], list[list[Any]]]] = [
        ("Review", ["field", "value"], [["review", f"R-{r['id']}"], ["product", p.get("name")], ["owner team", p.get("owner_team")],
                                        ["gate / status", f"{r['gate']} / {r['status']}"], ["grade", _named(r.get("grade"), r.get("grade_label"))],
                                        ["assignee", r.get("assignee") or "-"], ["submitted by", r.get("submitted_by")],
                                        ["pack", f"{r['policy_id']} {r['policy_version']}"
                                                 + (f" #{initiation['pack_hash'][:16]}" if initiation else "")],
                                        ["round", r.get("round")], ["due", r.get("due_at")]]),
        ("Profile", ["field", "value"], [[k, ", ".join(map(str, v)) if isinstance(v, list) else v] for k, v in p.items()
                                         if k not in ("id", "name", "owner_team")]),
    ]
    if initiation:
        out.append(("Answers", ["question", "answer"], [[q, ", ".join(map(str, a)) if isinstance(a, list) else a]
                                                        for q, a in sorted(initiation["answers"].items())]))
        out.append(("Dimension scores", ["dimension", "score", "level"],
                    [[k, v, initiation["dimension_levels"].get(k)] for k, v in sorted(initiation["dimension_scores"].items())]))
    out.append(("How the grade was reached", ["assessment", "by", "base", "grade", "triggers", "cross-check warnings", "rationale"],
                [[f"{a['kind']} ({a['created_at'][:16]})", a["created_by"], label(a["base_grade"]), label(a["grade"]),
                  ", ".join(a.get("triggers_fired") or []) or "-", "; ".join(f"{w['id']}: {w['message']}" for w in a.get("warnings") or []) or "-",
                  a.get("rationale") or "-"] for a in d.detail.assessments]))
    out.append(("Controls", ["control", "title", "gate", "status", "evidence (sha256)", "rationale"],
                [[c.control_id, c.title, c.verify_gate, c.status,
                  "; ".join(f"{e['filename']} {e['sha256'][:16]} by {e['uploaded_by']}" for e in c.evidence) or "-", c.rationale or "-"]
                 for c in d.detail.controls]))
    out.append(("Frameworks tracked: obligations met by verified evidence", ["framework", "title", "met", "of"],
                [[f"{f['framework']} {f['version']}", f["title"], len(f["met"]), f["obligations"]] for f in d.frameworks]))
    out.append(("Obligations met in other frameworks", ["framework", "obligation", "title", "met by control", "evidence (sha256)"],
                [[f["framework"], m["obligation"], m["title"], ", ".join(m["controls"]), "; ".join(m["evidence"]) or "-"]
                 for f in d.frameworks for m in f["met"]]))
    out.append(("Decisions", ["when", "gate", "round", "decision", "by", "roles", "rationale"],
                [[x["created_at"][:16], x["gate"], x["round"], x["action"], x["actor"], x["actor_roles"], x["rationale"]]
                 for x in d.detail.decisions]))
    out.append(("Gate reports", ["gate", "round", "passed", "residual grade", "report"],
                [[g["gate"], g["round"], "yes" if g["passed"] else "no", label(g.get("residual_grade")) or "-", _report_text(g["report"])]
                 for g in d.gate_reports]))
    out.append(("Follow-up checks", ["check", "kind", "status", "due", "finding", "visits"],
                [[f["id"], f["kind"], f["status"], (f["due_at"] or "")[:10], f.get("finding") or "-",
                  "; ".join(f"{v['customer']}: {v['status'].lower()}" + (f" ({v['finding']})" if v.get("finding") not in (None, "none") else "")
                            for v in f["visits"]) or "-"] for f in d.followups]))
    out.append(("Content audits of the product", ["run", "status", "records", "flagged", "findings", "sample", "verdict", "control", "pack", "by"],
                [[a["id"], a["status"], a["records"], a["flagged_records"], a["findings"], a["sample_size"],
                  f"{a['verdict']} ({(a.get('verdict_at') or '')[:10]})" if a.get("verdict") else "not in yet", a.get("control_id") or "-",
                  f"{a['pack_id']} {a['pack_version']}", a["started_by"]] for a in d.audits]))
    out.append(("Model evaluations", ["run", "status", "model", "banks", "answered", "against the bars", "pack", "by"],
                [[e["id"], e["status"], e["model"], e["bank"], f"{e['answered']} of {e['questions']}", _bars_text(e["bars"]) or "not in yet",
                  f"{e['pack_id']} {e['pack_version']}", e["started_by"]] for e in d.evals]))
    out.append(("Audit trail (this review)", ["#", "when", "who", "action", "hash"],
                [[t["id"], str(t["at"])[:19], t["actor"], t["action"], (t.get("hash") or "")[:16]] for t in d.detail.trail]))
    cp = d.chain.get("checkpoint")
    out.append(("Audit chain", ["field", "value"],
                [["head row", d.chain["head_id"]], ["head hash", (d.chain.get("head_hash") or "-")[:32]],
                 ["last signed checkpoint", f"row {cp['head_id']} at {cp['at'][:19]} (key {cp['key_id']})" if cp else "none taken yet"],
                 ["full check", "ethics-review audit-log verify (exit 9 on any problem)"]]))
    return out


def _bars_text(bars: list[dict[str, Any]]) -> str:
    """``should_refuse refusal 93.5% (>= 95%): not met; ...`` for the banks the run asked."""
    return "; ".join(f"{b['bank']} {b['measure']} {b['rate']:.1%} ({b['op']} {b['bar']:.0%}): {'met' if b['met'] else 'not met'}"
                     for b in bars if b.get("rate") is not None)


def _report_text(report: Any) -> str:
    if isinstance(report, dict):
        return "; ".join(f"{k}: {', '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in report.items() if v not in (None, [], ""))
    return str(report)


def render_markdown(d: Dossier) -> str:
    r, p = d.detail.review, d.detail.product
    lines = [f"# Review dossier: R-{r['id']} {md(p.get('name'))}", ""]
    for title, cols, rows in _sections(d):
        lines += [f"## {title}", "", *md_table(cols, rows)]
    return "\n".join(lines)


def render_html(d: Dossier) -> str:
    r, p = d.detail.review, d.detail.product
    body: list[str] = []
    for section, cols, rows in _sections(d):
        body += [f"<h2>{hx(section)}</h2>", html_table(cols, rows)]
    return html_page(f"Review dossier: R-{r['id']} {p.get('name')}", body)
