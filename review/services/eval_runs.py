"""Use cases of model evaluation (issue 12 §2): ``start_run`` (the questions chosen, the run attached to a review),
``run`` (ask the model, judge and store each answer as it arrives; resumable), ``get_run`` / ``list_runs`` and
``latest_bars`` (what ``conformance`` reads).

Each answer is written, with its verdicts (refused? unsafe?), with INSERT ... ON CONFLICT DO NOTHING on
(run, bank, item), in one small transaction per batch of answers that arrived together: a killed run resumes
with the questions that have no row, so no answer is missing or counted twice. The API key is read from an
environment variable whose name (never its value) is kept on the run. A model that stops answering fails the
run with ``ModelUnavailable`` naming the endpoint; the run stays resumable and never reports rates until every
chosen question has its answer. The finished run counts for the pack's ``eval_control`` on its review (``_apply``).
A refusal is what the pack's patterns match or, when the pack names one, what its refusal judge says (``_judge``; asked
before the answers are written, so none is stored unjudged); each answer keeps which (``refused_by``). The committee's
manual spot check of the answers is ``eval_spot``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from policies.banks import KINDS, BankItem
from policies.loader import LoadedPack, load_pack
from review.domain import sampling
from review.domain.content.scanners import RESULT_CACHE
from review.domain.content.taxonomy import Record
from review.domain.evaluation import (UNSAFE_LEVELS, Answered, Bar, RefusalDetector, RefusalJudge, RefusalJudgeError, bars,
                                     build_refusal_judge, summarize)
from review.errors import Conflict, InvalidInput, ModelUnavailable, NotFound
from review.services import audit
from review.services.audit_verdict import attach_document, fail_control
from review.services.common import load_actor, parse_id
from review.services.content_audit import AnswerCache, insert_ignore, pack_filter
from review.services.tables import table_of
from review.services.test_banks import pack_standard, read_banks
from review.store.db import Database, utcnow
from review.store.models import ControlRequirement, Product, Review
from review.store.models_eval import EvalAnswer, EvalRun

BANKS = (*KINDS, "all")
DEFAULTS = {"concurrency": 8, "timeout": 60.0, "retries": 3, "backoff": 0.5, "rate_limit": None}
_HINT = "; `ethics-review eval list` shows the runs"


def _key(kind: str, item_id: str) -> str:
    return f"{kind}:{item_id}"


def start_run(db: Database, *, review: Any, endpoint: str, model: str, bank: str, actor: str, sample: int | None = None,
              pack: str | None = None, seed: int | None = None, api_key_env: str | None = None, concurrency: int = 8,
              timeout: float = 60.0, retries: int = 3, rate_limit: float | None = None) -> EvalRun:
    """Plan a run: the bank's questions (``sample``: a stratified draw by bank and risk, seeded), attached to ``review``."""
    if bank not in BANKS:
        raise InvalidInput(f"--bank {bank!r}: expected one of {', '.join(BANKS)}")
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidInput(f"--endpoint {endpoint!r}: not an http(s) URL; give the API's base URL, e.g. http://host:8000/v1 "
                           "(requests go to {url}/chat/completions)")
    if parts.username or parts.password:
        raise InvalidInput("--endpoint: holds a user name or password; pass the API key through --api-key-env VAR instead "
                           "(the key is never stored)")
    if not model.strip() or len(model) > 200:
        raise InvalidInput(f"--model {model!r}: give the model's name as the endpoint knows it (1-200 characters)")
    for name, value, low in (("--concurrency", concurrency, 1), ("--retries", retries, 0), ("--sample", sample, 1)):
        if value is not None and value < low:
            raise InvalidInput(f"{name} {value}: must be at least {low}")
    if timeout <= 0 or (rate_limit is not None and rate_limit <= 0):
        raise InvalidInput("--timeout and --rate-limit must be positive")
    rid = parse_id(review, "review id", hint="; `ethics-review list` shows the reviews")
    with db.reading() as s:
        load_actor(s, actor)
        rev = s.get(Review, rid)
        if rev is None:
            raise NotFound(f"review {rid} does not exist; `ethics-review list` shows the reviews")
        prod = s.get(Product, rev.product_id)
        assert prod is not None  # a review's product exists (foreign key)
    lp, detector = _pack(pack or prod.policy_id)
    std = pack_standard(lp)
    banks = read_banks(lp)
    kinds = KINDS if bank == "all" else (bank,)
    missing = [k for k in kinds if not banks.get(k)]
    if missing:
        raise InvalidInput(f"pack {lp.id} has no {' or '.join(missing)} questions (content_safety.banks); add a bank with "
                           "`ethics-review bank import`, or choose another --bank")
    seed = seed if seed is not None else secrets.randbits(31)
    items = _choose(banks, kinds, sample, seed)
    settings: dict[str, Any] = {"pack_ref": pack or prod.policy_id, "sample": sample, "api_key_env": api_key_env,
                                "concurrency": concurrency, "timeout": timeout, "retries": retries, "rate_limit": rate_limit}
    if _judge(lp) is not None:  # it resolves and its key's variable is set, before anything is written
        use = lp.content_policy.refusal_judge
        settings["refusal_judge"] = {"use": use.use, "url": use.url, "model": use.model, "ask": use.ask}
    _model(endpoint, model, settings)  # the API key's variable is set, the options fit: before anything is written
    with db.transaction() as s:
        assert prod.id is not None and rev.id is not None
        run = EvalRun(review_id=rev.id, product_id=prod.id, endpoint=endpoint.rstrip("/"), model=model, bank=bank, pack_id=lp.id,
                      pack_version=lp.version, pack_hash=lp.content_hash, standard=std.id, status="RUNNING", seed=seed,
                      settings=settings, items=items, started_by=actor, created_at=utcnow())
        s.add(run)
        s.flush()
        audit.record(s, actor=actor, action="eval.start", entity="eval_run", entity_id=run.id,
                     after={"review": rev.id, "product": prod.name, "endpoint": run.endpoint, "model": model, "bank": bank,
                            "questions": len(items), "seed": seed, "pack_hash": lp.content_hash},
                     policy_version=f"{lp.id}@{lp.version}")
    return run


def _pack(ref: str) -> tuple[LoadedPack, RefusalDetector]:
    lp, _filt = pack_filter(ref)  # the filter compiles (or fails) before a run is planned
    policy = lp.content_policy
    if not policy.refusal_patterns:
        raise InvalidInput(f"pack {lp.id} ({lp.path}): content_safety.refusal_patterns is empty, so no answer could count as a "
                           "refusal; add patterns per language (en: [...], zh: [...]) as the default pack does")
    return lp, RefusalDetector(policy.refusal_patterns)


def _judge(lp: LoadedPack) -> RefusalJudge | None:
    """The pack's refusal judge (``content_safety.refusal_judge``), resolved as scanners are; None without one."""
    use = lp.content_policy.refusal_judge
    if use is None:
        return None
    from review import plugins

    plugins.register()
    try:
        return build_refusal_judge(use)
    except RefusalJudgeError as exc:
        raise InvalidInput(f"pack {lp.id} ({lp.path}): {exc}") from None


def _choose(banks: dict[str, list[BankItem]], kinds: tuple[str, ...], sample: int | None, seed: int) -> list[list[str]]:
    """Every question of the banks, or a stratified sample: split over the banks (proportional, at least one each),
    then within each bank over its risks (seeded draw)."""
    pools: dict[str, dict[str, list[str]]] = {}
    for kind in kinds:
        for item in banks[kind]:
            pools.setdefault(kind, {}).setdefault(stratum(kind, item.risk), []).append(item.id)
    if sample is None or sample >= sum(len(v) for pool in pools.values() for v in pool.values()):
        return sorted([kind, i] for kind in kinds for i in (item.id for item in banks[kind]))
    return sorted([kind, i] for kind, i, _ in stratified(pools, sample, seed))


def stratum(kind: str, risk: str | None) -> str:
    return f"{kind}/{risk or '-'}"


def stratified(pools: dict[str, dict[str, list[str]]], total: int, seed: int) -> list[tuple[str, str, str]]:
    """A seeded draw of ``total`` from ``pools`` (bank -> stratum -> ids): split over the banks in proportion (at least
    one each), then within each bank over its strata (risks). ``(bank, id, stratum)`` of each drawn, unordered. The
    questions an ``eval run`` asks and the answers its manual spot check samples are drawn so."""
    sizes = {kind: sum(len(v) for v in pool.values()) for kind, pool in pools.items()}
    out: list[tuple[str, str, str]] = []
    for kind, n in sampling.allocate(sizes, min(total, sum(sizes.values())), min_per_stratum=1).items():
        drawn = sampling.draw(pools[kind], n, seed=seed, min_per_stratum=1).ids
        out += [(kind, i, st) for st, ids in drawn.items() for i in ids]
    return out


def _model(endpoint: str, model: str, settings: dict[str, Any]) -> Any:
    from review.plugins.chat_model import ChatModel

    opts = {k: settings[k] for k in ("concurrency", "timeout", "retries", "rate_limit", "api_key_env")}
    try:
        return ChatModel({"url": endpoint, "model": model, "backoff": settings.get("backoff", DEFAULTS["backoff"]), **opts})
    except ValueError as exc:
        raise InvalidInput(f"--api-key-env: {exc}") from None


def run(db: Database, run_id: Any, *, actor: str | None = None, progress: Callable[[int, int], None] | None = None) -> EvalRun:
    """Ask every chosen question that has no stored answer yet, then compute the rates (idempotent, resumable)."""
    with db.reading() as s:
        ev = _load(s, run_id)
        done = set(s.execute(sa.select(col(EvalAnswer.kind), col(EvalAnswer.item_id)).where(col(EvalAnswer.run_id) == ev.id)).tuples().all())
    if ev.status == "DONE":
        return ev
    assert ev.id is not None
    lp, detector = _pack(ev.settings["pack_ref"])
    if lp.content_hash != ev.pack_hash:
        raise Conflict(f"pack {lp.id} changed since eval run {ev.id} started (#{ev.pack_hash[:12]} -> #{lp.content_hash[:12]}); "
                       "start a new run to evaluate with the new pack and banks")
    _lp, filt = pack_filter(ev.settings["pack_ref"])
    banks = {(kind, i.id): i for kind, items in read_banks(lp).items() for i in items}
    todo = {_key(k, i): banks[(k, i)] for k, i in ev.items if (k, i) not in done}
    model = _model(ev.endpoint, ev.model, ev.settings)
    judge = _judge(lp)
    ask_all = judge is not None and lp.content_policy.refusal_judge.ask == "all"
    count = [len(done)]
    total = len(ev.items)

    def refusals(answers: dict[str, dict[str, Any]]) -> dict[str, str | None]:
        """Who says each answer is a refusal: ``pattern``, ``judge``, or None (not a refusal)."""
        by: dict[str, str | None] = {k: "pattern" if detector.refused(a["text"], todo[k].lang) else None for k, a in answers.items()}
        if judge is not None:
            asked = {k: (todo[k].question, a["text"], todo[k].lang) for k, a in answers.items() if ask_all or by[k] is None}
            for k, refused in judge.judge(asked).items():
                by[k] = "judge" if refused else None
        return by

    def store(answers: dict[str, dict[str, Any]]) -> None:
        rows = []
        said = refusals(answers)  # a judge that fails stops the run here: nothing of this batch is stored unjudged
        for key, ans in answers.items():
            item = todo[key]
            text = ans["text"]
            found = filt.scan(Record(item.id, prompt="", output=text))
            bad = sorted({f.category for f in found if f.level in UNSAFE_LEVELS})
            rows.append({"run_id": ev.id, "kind": item.kind, "item_id": item.id, "risk": item.risk, "lang": item.lang,
                         "question": item.question, "answer": text, "model": ans["model"][:200],
                         "refused": said[key] is not None, "refused_by": said[key], "unsafe": bool(bad),
                         "categories": ",".join(bad)[:400], "answered_at": utcnow()})
        with db.transaction() as s:
            insert_ignore(s, table_of(EvalAnswer), rows)
            n = s.exec(select(func.count()).select_from(EvalAnswer).where(EvalAnswer.run_id == ev.id)).one()
            s.execute(sa.update(table_of(EvalRun)).where(table_of(EvalRun).c.id == ev.id).values(answered=n))
        count[0] = n
        if progress:
            progress(n, total)

    token = RESULT_CACHE.set(AnswerCache(db))  # a remote scanner in the pack's filter keeps its answers too
    try:
        model.ask_all({k: item.question for k, item in todo.items()}, store)
    except ModelUnavailable as exc:
        with db.transaction() as s:
            failed = s.get(EvalRun, ev.id)
            assert failed is not None
            failed.status, failed.error = "FAILED", exc.message
            s.add(failed)
        raise
    finally:
        RESULT_CACHE.reset(token)
    return _finish(db, ev.id, actor or ev.started_by)


def _finish(db: Database, run_id: int, actor: str) -> EvalRun:
    with db.transaction() as s:
        ev = s.get(EvalRun, run_id)
        assert ev is not None
        rows = s.execute(sa.select(col(EvalAnswer.kind), col(EvalAnswer.item_id), col(EvalAnswer.risk), col(EvalAnswer.refused),
                                   col(EvalAnswer.unsafe)).where(col(EvalAnswer.run_id) == run_id)).all()
        got = {(r.kind, r.item_id) for r in rows}
        lost = [f"{k}:{i}" for k, i in ev.items if (k, i) not in got]
        if lost:  # cannot happen unless the model failed: never rates over part of the questions
            raise ModelUnavailable(f"eval run {run_id}: {len(lost)} question(s) have no answer ({', '.join(lost[:3])}); resume the run")
        summary = summarize(Answered(r.kind, r.risk, bool(r.refused), bool(r.unsafe)) for r in rows)
        lp = load_pack(ev.settings["pack_ref"])
        std = pack_standard(lp)
        figs = bars(summary, should_refuse_min=std.refusal.should_refuse_min, must_not_refuse_max=std.refusal.must_not_refuse_max,
                    pass_rate=std.spot_checks.pass_rate)
        ev.results = {"banks": summary, "bars": [b.to_json() for b in figs]}
        ev.status, ev.error, ev.finished_at, ev.answered = "DONE", None, utcnow(), len(rows)
        s.add(ev)
        audit.record(s, actor=actor, action="eval.finish", entity="eval_run", entity_id=run_id,
                     after={"answered": len(rows), "bars": [b.to_json() for b in figs]},
                     policy_version=f"{ev.pack_id}@{ev.pack_version}")
        _apply(s, ev, figs, lp.content_policy.eval_control, bool(lp.content_policy.banks and lp.content_policy.banks.starter))
    return ev


def _control(s: Session, ev: EvalRun, control: str | None) -> tuple[Review, Product, ControlRequirement | None]:
    review = s.get(Review, ev.review_id)
    product = s.get(Product, ev.product_id)
    assert review is not None and product is not None and ev.id is not None  # foreign keys
    req = None
    if control:
        req = s.exec(select(ControlRequirement).where(ControlRequirement.review_id == review.id,
                                                      ControlRequirement.control_id == control)).first()
    return review, product, req


def _evidence(s: Session, ev: EvalRun, review: Review, req: ControlRequirement, kind: str, name: str, **extra: Any) -> None:
    """A result document of ``ev``, attached to the control for the committee to verify (if it still wants one)."""
    if req.status not in ("REQUIRED", "REJECTED", "EVIDENCE_SUBMITTED"):
        return
    assert ev.id is not None
    doc = {"kind": kind, "run": ev.id, "review": review.id, "product_id": ev.product_id, "control": req.control_id,
           "endpoint": ev.endpoint, "model": ev.model, "bank": ev.bank, "questions": len(ev.items), "seed": ev.seed,
           "sample": ev.settings.get("sample"), "pack": f"{ev.pack_id} {ev.pack_version}", "pack_hash": ev.pack_hash,
           "standard": ev.standard, **extra, "at": utcnow().isoformat()}
    attach_document(s, review, req, doc, f"eval-run-{ev.id}-{name}.json", ev.id)


def _apply(s: Session, ev: EvalRun, figs: list[Bar], control: str | None, starter: bool) -> None:
    """The run counts for its review's evaluation control (the pack's ``eval_control``): a missed bar rejects it (and
    reopens a released product, and tells the team and the committee, as a failed audit does); a run over every bank
    that meets every bar becomes its evidence, for the committee to verify."""
    review, product, req = _control(s, ev, control)
    text = f"model evaluation run {ev.id} ({ev.model}): " + "; ".join(
        f"{b.kind} {b.measure} {b.rate:.1%} (bar {b.op} {b.bar:.0%})" for b in figs if b.rate is not None)
    missed = [b for b in figs if b.met is False]
    if missed:
        fail_control(s, review, product, req, text=text, action="eval.control-failed", run_id=ev.id, dedupe_key=f"eval-failed:{ev.id}",
                     subject=f"{product.name}: model evaluation run {ev.id} missed {len(missed)} bar(s)",
                     body=f"{text}. Details: `ethics-review eval show {ev.id}`.", event="eval-failed")
    elif req is not None and all(b.met for b in figs):
        _evidence(s, ev, review, req, "model-evaluation", "result", starter_banks=starter, bars=[b.to_json() for b in figs])


def apply_manual(s: Session, ev: EvalRun, v: Any) -> None:
    """The committee's completed spot check of ``ev`` (an ``eval_spot.EvalSpotView``) counts for the same control: a
    manual pass rate under the standard's bar rejects it as a missed automatic bar does; a pass is attached as
    evidence beside the run's result when the automatic bars were all met."""
    control = load_pack(ev.settings["pack_ref"]).content_policy.eval_control
    review, product, req = _control(s, ev, control)
    text = (f"manual spot check of model evaluation run {ev.id} ({ev.model}): {v.safe}/{v.labelled} answers labelled safe, "
            f"{v.rate:.1%} (95% interval {v.lower:.1%}-{v.upper:.1%}; bar {v.threshold:.0%})")
    if not v.passed:
        fail_control(s, review, product, req, text=text, action="eval.spot-failed", run_id=ev.id, dedupe_key=f"eval-spot-failed:{ev.id}",
                     subject=f"{product.name}: the manual spot check of model evaluation run {ev.id} failed",
                     body=f"{text}. Labels: `ethics-review eval show {ev.id} --items`.", event="eval-failed")
    elif req is not None and all(b.get("met") for b in (ev.results or {}).get("bars", [])):
        _evidence(s, ev, review, req, "model-evaluation-spot-check", "spot-check", verdict="pass", labelled=v.labelled, safe=v.safe,
                  rate=v.rate, interval=[v.lower, v.upper], threshold=v.threshold, kappa_safety=v.kappa_safety,
                  kappa_refusal=v.kappa_refusal, adjudicated=v.adjudicated, per_bank={k: {m: r.__dict__ for m, r in d.items()}
                                                                                      for k, d in v.per_bank.items()})


def _load(s: Session, run_id: Any) -> EvalRun:
    rid = parse_id(run_id, "eval run id", hint=_HINT)
    ev = s.get(EvalRun, rid)
    if ev is None:
        raise NotFound(f"eval run {rid} does not exist{_HINT}")
    return ev


@dataclass
class RunView:
    run: EvalRun
    product: str
    bars: list[Bar]

    def to_json(self) -> dict[str, Any]:
        r = self.run
        return {"id": r.id, "review": r.review_id, "product": self.product, "endpoint": r.endpoint, "model": r.model, "bank": r.bank,
                "pack": r.pack_id, "pack_version": r.pack_version, "pack_hash": r.pack_hash, "standard": r.standard,
                "status": r.status, "seed": r.seed, "questions": len(r.items), "answered": r.answered, "error": r.error,
                "started_by": r.started_by, "created_at": r.created_at.isoformat(),
                "finished_at": r.finished_at.isoformat() if r.finished_at else None,
                "settings": r.settings, "banks": (r.results or {}).get("banks"), "bars": [b.to_json() for b in self.bars]}


def _bars_of(ev: EvalRun) -> list[Bar]:
    return [Bar(b["bank"], b["measure"], b["op"], b["bar"], b["rate"], b["n"], b["lower"], b["upper"])
            for b in (ev.results or {}).get("bars", [])]


def get_run(db: Database, run_id: Any) -> RunView:
    with db.reading() as s:
        ev = _load(s, run_id)
        prod = s.get(Product, ev.product_id)
        return RunView(ev, prod.name if prod else "?", _bars_of(ev))


def list_runs(db: Database, *, review: Any = None, limit: int = 50) -> list[RunView]:
    with db.reading() as s:
        q = select(EvalRun, Product.name).join(Product, col(Product.id) == EvalRun.product_id)
        if review is not None:
            q = q.where(col(EvalRun.review_id) == parse_id(review, "review id"))
        return [RunView(ev, name, _bars_of(ev)) for ev, name in s.exec(q.order_by(col(EvalRun.id).desc()).limit(limit)).all()]


def latest_bars(s: Session, product_id: int | None) -> dict[tuple[str, str], tuple[Bar, EvalRun]]:
    """For each figure (bank, measure), the newest finished run that measured it (of ``product_id``, or any)."""
    q = select(EvalRun).where(EvalRun.status == "DONE")
    if product_id is not None:
        q = q.where(EvalRun.product_id == product_id)
    out: dict[tuple[str, str], tuple[Bar, EvalRun]] = {}
    for ev in s.exec(q.order_by(col(EvalRun.finished_at).desc(), col(EvalRun.id).desc()).limit(200)):
        for b in _bars_of(ev):
            if b.rate is not None:
                out.setdefault((b.kind, b.measure), (b, ev))
    return out
