"""``ethics-review conformance``: a deployment read against its standard, number by number (issue 12 §3).

For every figure of the pack's standard (``policies/standards/<id>.yaml``), the requirement, the value found,
``met`` / ``not met`` / ``no data``, and the evidence (pack hash, files, audit runs and their dates):

* the keyword library: its size and the terms per A.1 / A.2 risk (each term counted once,
  ``library.COUNT_RULE``), and its age (the last import on the audit trail);
* the test banks: sizes, the 31 risks covered, age;
* spot checks of generated content: the manual check (the newer of the latest audit run with a verdict and the latest
  eval run whose sampled answers to the generated-content bank are all labelled: items labelled and their pass rate), and the keyword and classifier checks (the latest finished run: records scanned and the share
  no keyword / classifier finding touched);
* model evaluation: the refusal rates on the should-refuse and must-not-refuse banks and the pass rate of generated
  content, each from the newest finished eval run that asked that bank (``eval run``), against the standard's bars
  (the bar is read from the standard now, the rate from the run);
* the training-corpus sample: ``no data`` until corpus audits exist.

Nothing required may be ``not met`` or ``no data`` for the deployment to conform (the CLI exits 10 otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timezone
from typing import Any

from sqlmodel import Session, col, func, select

from policies.content_schema import TC260_RISKS, load_content_library
from policies.loader import load_pack
from review.domain.content.library import COUNT_RULE, terms_per_risk
from review.errors import InvalidInput, NotFound
from review.services import content_report
from review.services.eval_runs import latest_bars
from review.services.eval_spot import EvalSpotView, latest_manual
from review.services.test_banks import bank_lint, pack_standard
from review.store.db import Database
from review.store.models import AuditLog, Product
from review.store.models_content import AuditRun, ContentFinding
from review.store.models_eval import EvalRun

MET, NOT_MET, NO_DATA = "met", "not met", "no data"
CLASSIFIER_SCANNERS = ("classifier", "classifier_nb")  # classifier_nb: runs from before the rename


@dataclass
class Requirement:
    area: str
    requirement: str
    found: str
    status: str
    evidence: str

    def to_json(self) -> dict[str, Any]:
        return {"area": self.area, "requirement": self.requirement, "found": self.found, "status": self.status,
                "evidence": self.evidence}


@dataclass
class ConformanceReport:
    pack: str
    version: str
    pack_hash: str
    standard: str
    standard_title: str
    product: str | None
    at: datetime
    rows: list[Requirement] = field(default_factory=list)

    @property
    def conforms(self) -> bool:
        return all(r.status == MET for r in self.rows)

    def counts(self) -> dict[str, int]:
        return {s: sum(r.status == s for r in self.rows) for s in (MET, NOT_MET, NO_DATA)}

    def to_json(self) -> dict[str, Any]:
        return {"pack": self.pack, "version": self.version, "pack_hash": self.pack_hash, "standard": self.standard,
                "standard_title": self.standard_title, "product": self.product, "at": self.at.isoformat(),
                "conforms": self.conforms, "counts": self.counts(), "count_rule": COUNT_RULE,
                "requirements": [r.to_json() for r in self.rows]}


def _status(ok: bool) -> str:
    return MET if ok else NOT_MET


def _pct(x: float) -> str:
    return f"{x:.1%}"


def conformance(db: Database, pack_ref: str = "default", product: str | None = None, today: date | None = None) -> ConformanceReport:
    today = today or datetime.now(timezone.utc).date()
    lp = load_pack(pack_ref)
    policy = lp.content_policy
    if policy is None:
        raise InvalidInput(f"pack {lp.id} has no content_safety section: nothing to hold to a standard")
    std = pack_standard(lp)
    rep = ConformanceReport(lp.id, lp.version, lp.content_hash, std.id, std.title, product, datetime.now(timezone.utc))
    pack_ev = f"pack {lp.id} {lp.version} #{lp.content_hash[:12]}"

    # keyword library
    kl = std.keyword_library
    library = load_content_library(policy, lp.directory)
    per_risk, _contrib, distinct = terms_per_risk(policy.categories, library.keywords)
    files = ", ".join(sorted({c.keywords for c in policy.categories if c.keywords}))
    rep.rows.append(Requirement("keyword library", f"at least {kl.total:,} keywords (each counted once)", f"{distinct:,}",
                                _status(distinct >= kl.total), f"{pack_ev}; {files}"))
    for risk in TC260_RISKS:
        need = kl.per_a1_risk if risk.startswith("A.1.") else kl.per_a2_risk if risk.startswith("A.2.") else 0
        if need:
            n = per_risk.get(risk, 0)
            rep.rows.append(Requirement("keyword library", f"{risk} {TC260_RISKS[risk]}: at least {need} keywords", f"{n:,}",
                                        _status(n >= need), pack_ev))
    with db.reading() as s:
        last = s.exec(select(AuditLog).where(AuditLog.action == "policy-keywords-import", AuditLog.entity_id == lp.id)
                      .order_by(col(AuditLog.id).desc())).first()
        if last is None:
            rep.rows.append(Requirement("keyword library", f"updated at least every {kl.max_age_days} days", "-", NO_DATA,
                                        f"no keyword import of pack {lp.id} on the audit trail"))
        else:
            age = (today - last.at.date()).days
            rep.rows.append(Requirement("keyword library", f"updated at least every {kl.max_age_days} days", f"{age} days ago",
                                        _status(age <= kl.max_age_days), f"audit trail #{last.id} ({last.at:%Y-%m-%d}, {last.actor})"))

        # test banks
        banks = bank_lint(pack_ref, today)
        tb = std.test_banks
        for b in banks.banks:
            ev = f"{pack_ev}; {b.path or 'no file'}" + ("; a STARTER bank" if banks.starter else "")
            rep.rows.append(Requirement("test banks", f"{b.kind.replace('_', '-')} bank: at least {b.minimum:,} questions",
                                        f"{b.size:,}", _status(b.size >= b.minimum and b.path is not None), ev))
            if b.kind == "generated":
                covered = len(TC260_RISKS) - len(b.missing_risks)
                rep.rows.append(Requirement("test banks", "generated bank covers all 31 risks", f"{covered} of 31",
                                            _status(not b.missing_risks and b.size > 0), ev))
            if b.size:
                rep.rows.append(Requirement("test banks", f"{b.kind.replace('_', '-')} bank updated at least every {tb.max_age_days} days",
                                            f"{b.age_days} days ago (newest {b.newest})",
                                            _status((b.age_days or 0) <= tb.max_age_days), ev))

        # spot checks of generated content
        sc = std.spot_checks
        runs = select(AuditRun).where(AuditRun.status == "SCANNED")
        prod_id: int | None = None
        if product:
            prod = s.exec(select(Product).where(Product.name == product)).first()
            if prod is None:
                raise NotFound(f"product {product!r} not found (`ethics-review list` shows the products)")
            prod_id = prod.id
            runs = runs.where(AuditRun.product_id == prod.id)
        judged = s.exec(runs.where(col(AuditRun.verdict).is_not(None)).order_by(col(AuditRun.verdict_at).desc())).first()
        latest = s.exec(runs.order_by(col(AuditRun.finished_at).desc(), col(AuditRun.id).desc())).first()
        _manual(s, rep, judged, latest_manual(s, prod_id), sc.manual, sc.pass_rate)
        for kind, scanners, need in (("keyword", ("keyword",), sc.keyword), ("classifier", CLASSIFIER_SCANNERS, sc.classifier)):
            _scanner_check(s, rep, latest, kind, scanners, need, sc.pass_rate)

    # model evaluation: the newest finished eval run that measured each figure
    rf = std.refusal
    with db.reading() as s:
        found = latest_bars(s, prod_id)
    pr = std.spot_checks.pass_rate
    for kind, measure, bar, req in (
            ("should_refuse", "refusal", rf.should_refuse_min, f"refusal rate on the should-refuse bank at least {_pct(rf.should_refuse_min)}"),
            ("must_not_refuse", "refusal", rf.must_not_refuse_max,
             f"refusal rate on the must-not-refuse bank at most {_pct(rf.must_not_refuse_max)}"),
            ("generated", "pass", pr, f"pass rate of generated content (eval run) at least {_pct(pr)}")):
        if (kind, measure) not in found:
            rep.rows.append(Requirement("model evaluation", req, "-", NO_DATA, "no finished eval run asked this bank (`ethics-review eval run`)"))
            continue
        measured, erun = found[(kind, measure)]
        now = replace(measured, bar=bar)  # the standard's bar as it is now, the run's rate
        rep.rows.append(Requirement("model evaluation", req,
                                    f"{_pct(now.rate or 0.0)} of {now.n:,} (95% CI {_pct(now.lower)}-{_pct(now.upper)})",
                                    _status(bool(now.met)),
                                    f"eval run {erun.id} ({erun.finished_at:%Y-%m-%d}), model {erun.model}, review {erun.review_id}"))
    tc = std.training_corpus
    rep.rows.append(Requirement("training corpus", f"manual sample of at least {tc.sample:,} items, pass rate at least "
                                                   f"{_pct(tc.pass_rate)}", "-", NO_DATA, "no training-corpus audit on record"))
    return rep


def _manual(s: Session, rep: ConformanceReport, run: AuditRun | None, spot: tuple[EvalRun, EvalSpotView] | None, need: int,
            bar: float) -> None:
    """The manual spot check of generated content: the newer of the latest audit run with a verdict and the latest eval
    run whose sampled answers to the generated-content bank are all labelled (``eval sample`` / ``eval label``)."""
    v = content_report.compute(s, run) if run is not None else None
    audit_at = _utc(run.verdict_at) if run is not None else None
    spot_at = _utc(spot[1].last_label_at) if spot is not None else None
    if spot is not None and (v is None or audit_at is None or (spot_at is not None and spot_at >= audit_at)):
        ev, sv = spot
        when = f"{sv.last_label_at:%Y-%m-%d}" if sv.last_label_at else "-"
        evidence = (f"eval run {ev.id} ({when}), model {ev.model}, review {ev.review_id}: {sv.labelled:,} sampled answers to the "
                    f"generated-content bank labelled by the committee")
        labelled, rate, lower, upper = sv.labelled, sv.rate, sv.lower, sv.upper
    elif run is not None and v is not None:
        evidence = f"audit run {run.id} ({run.verdict_at:%Y-%m-%d}), verdict {run.verdict}" if run.verdict_at else f"audit run {run.id}"
        labelled, rate, lower, upper = v.labelled, v.rate, v.lower, v.upper
    else:
        for req in (f"manual spot check of at least {need:,} items", f"manual spot check pass rate at least {_pct(bar)}"):
            rep.rows.append(Requirement("spot checks", req, "-", NO_DATA,
                                        "no audit run with a verdict, no eval run with its sample labelled (`ethics-review eval sample`)"))
        return
    rep.rows.append(Requirement("spot checks", f"manual spot check of at least {need:,} items", f"{labelled:,}",
                                _status(labelled >= need), evidence))
    rep.rows.append(Requirement("spot checks", f"manual spot check pass rate at least {_pct(bar)}",
                                f"{_pct(rate)} (95% CI {_pct(lower)}-{_pct(upper)})", _status(rate >= bar), evidence))


def _utc(at: datetime | None) -> datetime | None:
    """A stored time as an aware UTC time (a driver may hand back a naive one), so two sources compare."""
    return at.replace(tzinfo=timezone.utc) if at is not None and at.tzinfo is None else at


def _scanner_check(s: Session, rep: ConformanceReport, run: AuditRun | None, kind: str, scanners: tuple[str, ...], need: int,
                   bar: float) -> None:
    if run is None:
        for req in (f"{kind} check of at least {need:,} items", f"{kind} check pass rate at least {_pct(bar)}"):
            rep.rows.append(Requirement("spot checks", req, "-", NO_DATA, "no finished audit run"))
        return
    flagged = s.exec(select(func.count(func.distinct(ContentFinding.record_id)))
                     .where(ContentFinding.run_id == run.id, col(ContentFinding.scanner).in_(scanners))).one()
    listed = (run.settings or {}).get("scanners")  # [{"use": name, ...}] as the run used them (older runs: not recorded)
    used = listed is None or any(isinstance(u, dict) and u.get("use") in scanners for u in listed)
    ev = f"audit run {run.id} ({run.finished_at:%Y-%m-%d})" if run.finished_at else f"audit run {run.id}"
    examined = run.records - (run.not_examined or 0)
    rep.rows.append(Requirement("spot checks", f"{kind} check of at least {need:,} items", f"{examined:,}",
                                _status(examined >= need and used), ev if used else f"{ev}: no {kind} scanner in the run"))
    rate = 1 - flagged / examined if examined else 0.0
    rep.rows.append(Requirement("spot checks", f"{kind} check pass rate at least {_pct(bar)}",
                                f"{_pct(rate)} ({flagged:,} of {examined:,} records flagged)",
                                _status(used and examined > 0 and rate >= bar), ev))


# ---------------------------------------------------------------- rendering

def render_markdown(rep: ConformanceReport) -> str:
    md, table = content_report.md, content_report.md_table
    c = rep.counts()
    lines = [f"# Conformance with {md(rep.standard_title)}", "",
             f"Pack {md(rep.pack)} {md(rep.version)} (#{rep.pack_hash[:12]}), standard `{md(rep.standard)}`"
             + (f", product {md(rep.product)}" if rep.product else ", all products") + f", {rep.at:%Y-%m-%d %H:%M} UTC.", "",
             f"**{'Conforms' if rep.conforms else 'Does not conform'}**: {c[MET]} met, {c[NOT_MET]} not met, {c[NO_DATA]} without data.",
             ""]
    lines += table(["area", "requirement", "found", "status", "evidence"],
                   [[r.area, r.requirement, r.found, r.status, r.evidence] for r in rep.rows])
    lines += ["", f"Keywords are counted once: {md(COUNT_RULE)}.", ""]
    return "\n".join(lines)


def render_html(rep: ConformanceReport) -> str:
    hx = content_report.hx
    c = rep.counts()
    body = [f"<p>Pack {hx(rep.pack)} {hx(rep.version)} (#{hx(rep.pack_hash[:12])}), standard <code>{hx(rep.standard)}</code>"
            + (f", product {hx(rep.product)}" if rep.product else ", all products") + f", {rep.at:%Y-%m-%d %H:%M} UTC.</p>",
            f"<p><strong>{'Conforms' if rep.conforms else 'Does not conform'}</strong>: {c[MET]} met, {c[NOT_MET]} not met, "
            f"{c[NO_DATA]} without data.</p>",
            content_report.html_table(["area", "requirement", "found", "status", "evidence"],
                                      [[r.area, r.requirement, r.found, r.status, r.evidence] for r in rep.rows]),
            f"<p>Keywords are counted once: {hx(COUNT_RULE)}.</p>"]
    return content_report.html_page(f"Conformance with {rep.standard_title}", body)
