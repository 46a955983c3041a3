"""The spot-check verdict, missed-violation keyword suggestions and the audit report
(Markdown + HTML). Labelling is ``content_labels``."""

from __future__ import annotations

import html
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlmodel import Session, select

from review.domain import sampling
from review.services import spot_rounds
from review.services.content_audit import get_run, load_run, pack_filter, sampling_plan
from review.store.db import Database
from review.store.models_content import SpotCheckItem, SpotCheckLabel


@dataclass
class VerdictView:
    run_id: int
    items: int
    labelled: int
    passes: int
    violations: int
    rate: float
    lower: float
    upper: float
    threshold: float
    confidence: float
    passed: bool
    lower_clears: bool
    complete: bool
    kappa: float | None
    pairs: int
    disagreements: int
    missed: int  # violations on items the filter did not flag
    violations_by_category: dict[str, int]
    #: double review: items whose two reviewers disagree and no third reviewer has settled yet
    awaiting_adjudication: list[int] = field(default_factory=list)
    adjudicated: int = 0
    #: double review: items still waiting for their second review
    awaiting_second: int = 0
    #: the stored verdict (pass | fail) once it is in, and when
    final: str | None = None
    #: image/audio/video records with no text a scanner could read: outside what the filter examined, never clean
    not_examined: int = 0


#: label rounds: a first review, a blind second review, a third reviewer's adjudication of a disagreement
FIRST, SECOND, ADJUDICATION = spot_rounds.FIRST, spot_rounds.SECOND, spot_rounds.ADJUDICATION


def verdict(db: Database, run_id: Any) -> VerdictView:
    """Pass rate of the labels against the plan's threshold, Wilson interval, Cohen's kappa over items with a
    blind second review; in double review, what still waits for a second review or an adjudication."""
    with db.reading() as s:
        return compute(s, load_run(s, run_id))


def compute(s: Session, run: Any) -> VerdictView:
    """The verdict from the stored items and labels (inside the caller's session: labelling settles with it).

    An item's label is the adjudication when there is one, else the first review (else the second). The verdict
    is complete when every item is labelled and, in double review, second-reviewed and every disagreement
    adjudicated by a third reviewer."""
    items = {i.seq: i.flagged for i in s.exec(select(SpotCheckItem).where(SpotCheckItem.run_id == run.id)).all()}
    labels = s.exec(select(SpotCheckLabel).where(SpotCheckLabel.run_id == run.id)).all()
    plan = sampling_plan(run)
    r = spot_rounds.rounds_of(labels)
    first, second, third = r.first, r.second, r.third
    primary = r.primary
    passes = sum(1 for x in primary.values() if x.verdict == "pass")
    n = len(primary)
    v = sampling.pass_verdict(passes, n, plan["pass_threshold"], plan["interval_confidence"])
    both = r.pairs
    kappa = r.kappa(lambda x: x.verdict)
    by_cat: dict[str, int] = {}
    for x in primary.values():
        if x and x.verdict == "violation":
            by_cat[x.category or "?"] = by_cat.get(x.category or "?", 0) + 1
    disagree = [k for k in both if first[k].verdict != second[k].verdict]
    waiting = sorted(k for k in disagree if k not in third) if run.double_review else []
    no_second = sum(1 for k in items if k not in first or k not in second) if run.double_review else 0
    complete = n == len(items) and n > 0 and not waiting and not no_second
    return VerdictView(run.id, len(items), n, passes, n - passes, v.rate, v.lower, v.upper, v.threshold, plan["interval_confidence"],
                       v.passed, v.lower_clears, complete, kappa, len(both), len(disagree),
                       sum(1 for k, x in primary.items() if x.verdict == "violation" and not items.get(k, False)), by_cat,
                       waiting, len(third), no_second, getattr(run, "verdict", None), getattr(run, "not_examined", 0) or 0)


# ---- missed violations -> candidate keywords -------------------------------------------------
_WORD = re.compile(r"[a-z][a-z'-]{2,}")
_CJK = re.compile(r"[\u4e00-\u9fff]{2,}")
_STOP = frozenset("the and for with that this from you your are was were have has had not but can will how what when where who "
                  "why which into about there their them they then than our out all any his her its also just like more some such "
                  "very would could should been being over only other after before these those here me my we us it is to of in on".split())


def _grams(text: str) -> set[str]:
    low = text.lower()
    words = [w for w in _WORD.findall(low) if w not in _STOP]
    out = set(words) | {f"{a} {b}" for a, b in zip(words, words[1:], strict=False)}
    for run in _CJK.findall(text):
        for n in (2, 3, 4):
            out.update(run[i:i + n] for i in range(len(run) - n + 1))
    return out


def suggest_keywords(db: Database, run_id: Any, *, limit: int = 20) -> list[dict]:
    """n-grams from violations the filter missed (unflagged items labelled violation) that
    are not library terms, ranked by how many missed items hold them minus how often they
    occur in passed items (scaled)."""
    from review.domain.content.normalize import canonical_term
    from review.domain.content.scanners import KeywordScanner

    with db.reading() as s:
        run = load_run(s, run_id)
        items = {i.seq: i for i in s.exec(select(SpotCheckItem).where(SpotCheckItem.run_id == run.id)).all()}
        assert run.id is not None  # a loaded run
        labels = _primary_labels(s, run.id)
    _, filt = pack_filter(run.settings["pack_ref"])
    library = set()
    for sc in filt.scanners:
        if isinstance(sc, KeywordScanner):
            library = set(sc.keywords.canons)
    missed = [items[k] for k, lab in labels.items() if lab.verdict == "violation" and not items[k].flagged]
    passed = [items[k] for k, lab in labels.items() if lab.verdict == "pass"]
    if not missed:
        return []
    m_df: Counter = Counter()
    first: dict[str, int] = {}
    for it in missed:
        for g in _grams(f"{it.prompt}\n{it.output}"):
            m_df[g] += 1
            first.setdefault(g, it.seq)
    p_df: Counter = Counter()
    for it in passed:
        p_df.update(g for g in _grams(f"{it.prompt}\n{it.output}") if g in m_df)
    scale = len(missed) / max(1, len(passed))
    out = []
    for g, c in m_df.items():
        if canonical_term(g) in library:
            continue
        score = c - p_df[g] * scale
        if score > 0:
            out.append({"term": g, "missed": c, "passed": p_df[g], "score": round(score, 3), "example_item": first[g]})
    out.sort(key=lambda d: (-d["score"], -len(d["term"]), d["term"]))
    return out[:limit]


def _primary_labels(s: Session, run_id: int) -> dict[int, SpotCheckLabel]:
    """Each item's label that counts: the adjudication, else the first review, else the second."""
    return spot_rounds.rounds_of(s.exec(select(SpotCheckLabel).where(SpotCheckLabel.run_id == run_id)).all()).primary


# ---- report ----------------------------------------------------------------------------------
def report_data(db: Database, run_id: Any, *, examples: int = 10) -> dict:
    from review.services.content_audit import sample_items

    d = get_run(db, run_id, bad_limit=20)
    v = verdict(db, d.run.id)
    items = [i for i in sample_items(db, d.run.id, d.run.started_by, blind=False, log_read=False, mask=True) if i.spans][:examples]
    return {"detail": d, "verdict": v, "examples": items, "suggestions": suggest_keywords(db, d.run.id)}


def verdict_word(v: VerdictView) -> str:
    if not v.labelled:
        return "NOT LABELLED"
    word = "PASS" if v.passed else "FAIL"
    if v.complete:
        return word
    if v.awaiting_adjudication:
        return f"{word} (provisional: {len(v.awaiting_adjudication)} disagreement(s) wait for a third reviewer)"
    if v.awaiting_second:
        return f"{word} (provisional: {v.awaiting_second} item(s) wait for their second review)"
    return f"{word} (provisional: {v.labelled} of {v.items} items labelled)"


def render_report(db: Database, run_id: Any) -> tuple[int, str, str]:
    """(run id, Markdown, HTML) of a run's report."""
    data = report_data(db, run_id)
    return data["detail"].run.id, _markdown(data), _html(data)


def write_report_files(run_id: int, markdown: str, html: str, out_dir: str | Path) -> tuple[Path, Path]:
    """Write ``audit-<run>.md`` and ``audit-<run>.html`` into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    md, htm = out / f"audit-{int(run_id)}.md", out / f"audit-{int(run_id)}.html"
    md.write_text(markdown, encoding="utf-8")
    htm.write_text(html, encoding="utf-8")
    return md, htm


def write_report(db: Database, run_id: Any, out_dir: str | Path) -> tuple[Path, Path]:
    """Write ``audit-<run>.md`` and ``audit-<run>.html`` into ``out_dir``."""
    return write_report_files(*render_report(db, run_id), out_dir)


def _summary_rows(d, v) -> list[tuple[str, str]]:
    r = d.run
    kappa = "-" if v.kappa is None else f"{v.kappa:.3f} over {v.pairs} double-reviewed items ({v.disagreements} disagreements)"
    return [("Product", d.product), ("Input", f"{r.source} ({r.fmt}, {r.source_bytes:,} bytes)"),
            ("Policy pack", f"{r.pack_id} {r.pack_version} #{r.pack_hash[:12]}"), ("Status", r.status),
            ("Records", f"{r.records:,} valid, {r.bad_records:,} bad (skipped)"), ("Flagged records", f"{r.flagged_records:,}"),
            ("Not examined", f"{v.not_examined:,} image/audio/video record(s) with only a URI (no caption, OCR or transcript): "
                             "no scanner saw their content, so they count neither as clean nor as passed"),
            ("Scanners", ", ".join(f"{u['use']} {u.get('model') or ''}".strip() for u in r.settings.get("scanners", [])) or "-"),
            ("Findings", f"{r.findings:,}"), ("Sample", f"{r.sample_size:,} items, seed {r.seed}"),
            ("Labelled", f"{v.labelled} of {v.items}"),
            ("Pass rate", f"{v.rate:.1%} ({v.passes}/{v.labelled}); {v.confidence:.0%} Wilson interval {v.lower:.1%} - {v.upper:.1%}"),
            ("Threshold", f"{v.threshold:.0%} (lower bound {'clears' if v.lower_clears else 'does not clear'} it)"),
            ("Verdict", verdict_word(v)), ("Cohen's kappa", kappa), ("Violations the filter missed", str(v.missed))]


def _snippet(text: str, spans: list, width: int = 60, mark=("**", "**"), esc=lambda x: x) -> str:
    if not spans:
        return esc(text[:2 * width])
    lo = max(0, spans[0].start - width)
    hi = min(len(text), max(sp.end for sp in spans) + width)
    out, pos = [], lo
    for sp in sorted(spans, key=lambda x: (x.start, x.end)):
        if sp.start < pos or sp.end > hi:
            continue
        out += [esc(text[pos:sp.start]), mark[0], esc(text[sp.start:sp.end]), mark[1]]
        pos = sp.end
    out.append(esc(text[pos:hi]))
    return ("..." if lo else "") + "".join(out).replace("\n", " ") + ("..." if hi < len(text) else "")


def _examples(items, mark, esc) -> list[tuple[str, str, str, str]]:
    rows = []
    for it in items:
        for fld in ("prompt", "output", "metadata"):
            spans = [sp for sp in it.spans if sp.field == fld]
            if not spans:
                continue
            text = {"prompt": it.prompt, "output": it.output}.get(fld) or "\n".join(f"{k}: {v}" for k, v in sorted(it.metadata.items())
                                                                                        if isinstance(v, str) and v)
            cats = ", ".join(sorted({f"{sp.category} (sev {sp.severity})" for sp in spans}))
            rows.append((f"{it.record_id} (item {it.seq})", fld, cats, _snippet(text, spans, mark=mark, esc=esc)))
    return rows


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>!|~])")  # inline markup; text never starts a line here


def md(text: object) -> str:
    """Untrusted text for a Markdown table cell: no markup, links, images or HTML; control characters shown as escapes."""
    from review.text import escaped

    return _MD_SPECIAL.sub(r"\\\1", escaped(text)).replace("\n", " ")


def hx(text: object) -> str:
    """Untrusted text for HTML: tags escaped, control and bidi characters shown as escapes (a report read in a
    terminal with ``cat`` sets no title and moves no cursor)."""
    from review.text import escaped

    return html.escape(escaped(text))


def md_table(cols: list[str], rows: list[list[Any]], cell: Any = lambda v: "-" if v is None else v) -> list[str]:
    """A Markdown table (our column names; every cell escaped with ``md`` after ``cell``), or ``none``; a blank line after."""
    if not rows:
        return ["none", ""]
    return ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)] + [
        "| " + " | ".join(md(cell(c)) for c in row) + " |" for row in rows] + [""]


def html_table(cols: list[str], rows: list[list[Any]], cell: Any = lambda v: "-" if v is None else v) -> str:
    """An HTML table (head and cells escaped with ``hx``), or ``<p>none</p>``."""
    if not rows:
        return "<p>none</p>"
    return ("<table><tr>" + "".join(f"<th>{hx(c)}</th>" for c in cols) + "</tr>\n"
            + "\n".join("<tr>" + "".join(f"<td>{hx(cell(c))}</td>" for c in row) + "</tr>" for row in rows) + "\n</table>")


def html_page(title: str, body: list[str], *, css: str = "") -> str:
    """A self-contained report page: no scripts or outside resources (CSP), the title escaped."""
    return "\n".join(["<!doctype html><html><head><meta charset='utf-8'>",
                      "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; style-src 'unsafe-inline'\">",
                      f"<title>{hx(title)}</title><style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;"
                      "margin-bottom:1.5em}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}"
                      f"th{{background:#f3f3f3}}{css}</style></head><body>", f"<h1>{hx(title)}</h1>", *body, "</body></html>"])


def _markdown(data: dict) -> str:
    d, v = data["detail"], data["verdict"]
    lines = [f"# Content-safety audit run {d.run.id}: {md(d.product)}", "", "| | |", "|---|---|"]
    lines += [f"| {k} | {md(val) if k in ('Product', 'Input', 'Scanners') else val} |" for k, val in _summary_rows(d, v)]  # the rest is ours
    lines += ["", "## Findings by category and severity", "", "| category | severity | findings | records |", "|---|---:|---:|---:|"]
    lines += [f"| {md(c)} | {s} | {n:,} | {r:,} |" for c, s, n, r in d.by_category] or ["| (none) | | | |"]
    if v.violations_by_category:
        lines += ["", "## Violations found by reviewers", ""] + [f"- {md(c)}: {n}" for c, n in sorted(v.violations_by_category.items())]
    lines += ["", "## Examples (matched spans in bold)", ""]
    ex = _examples(data["examples"], ("**", "**"), md)
    lines += ["| record | field | categories | text |", "|---|---|---|---|"] + [f"| {md(a)} | {md(b)} | {md(c)} | {t} |" for a, b, c, t in ex] if ex else ["(no flagged item in the sample)"]
    lines += ["", "## Candidate keywords from missed violations", ""]
    sug = data["suggestions"]
    lines += ["| term | missed items | passed items | score |", "|---|---:|---:|---:|"] + [
        f"| {md(s['term'])} | {s['missed']} | {s['passed']} | {s['score']} |" for s in sug] if sug else ["(none: no violation the filter missed)"]
    lines += ["", f"## Bad input records ({d.run.bad_records:,}, skipped)", ""] + [f"- {md(b.message)}" for b in d.bad]
    return "\n".join(lines) + "\n"


def _html(data: dict) -> str:
    d, v = data["detail"], data["verdict"]
    e = hx

    def table(head, rows):
        return ("<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in head) + "</tr>"
                + "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows) + "</table>")

    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>Audit run {d.run.id}</title>",
             "<style>body{font-family:sans-serif;max-width:70em;margin:2em auto}td,th{border:1px solid #ccc;padding:.3em .6em}"
             "table{border-collapse:collapse;margin:1em 0}mark{background:#ffd54f}.fail{color:#b00}.pass{color:#070}</style></head><body>",
             f"<h1>Content-safety audit run {d.run.id}: {e(d.product)}</h1>",
             table(["", ""], [(e(k), e(val)) for k, val in _summary_rows(d, v)]),
             f"<p class='{'pass' if v.passed else 'fail'}'><b>Verdict: {e(verdict_word(v))}</b></p>",
             "<h2>Findings by category and severity</h2>",
             table(["category", "severity", "findings", "records"], [(e(c), s, f"{n:,}", f"{r:,}") for c, s, n, r in d.by_category]),
             "<h2>Examples</h2>",
             table(["record", "field", "categories", "text"], [(e(a), e(b), e(c), t) for a, b, c, t in
                                                               _examples(data["examples"], ("<mark>", "</mark>"), e)]),
             "<h2>Candidate keywords from missed violations</h2>",
             table(["term", "missed items", "passed items", "score"], [(e(s["term"]), s["missed"], s["passed"], s["score"])
                                                                      for s in data["suggestions"]]),
             f"<h2>Bad input records ({d.run.bad_records:,}, skipped)</h2><ul>" + "".join(f"<li>{e(b.message)}</li>" for b in d.bad) + "</ul>",
             "</body></html>"]
    return "\n".join(parts)
