"""Spot-check labelling: one label (pass, or violation with category and severity), a
batch from a CSV/JSONL file in ONE transaction (all or nothing), blind second reviews."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from sqlmodel import Session, select

from review.domain.duties import Duty, ProductContext, require
from review.errors import Conflict, Forbidden, InvalidInput, NotFound
from review.services import audit
from review.services.common import load_actor, locked
from review.services.audit_verdict import settle
from review.services.content_audit import VERDICTS, load_run, pack_filter
from review.services.content_report import ADJUDICATION, FIRST, SECOND
from review.store.db import Database, utcnow
from review.store.models import Product
from review.store.models_content import AuditRun, SpotCheckItem, SpotCheckLabel


# ---- labelling -------------------------------------------------------------------------------
def label_item(db: Database, run_id: Any, seq: Any, reviewer: str, verdict: str, *, category: str | None = None,
               severity: int | None = None, note: str = "", second: bool = False, adjudicate: bool = False) -> SpotCheckLabel:
    """Record ``reviewer``'s label on item ``seq``: ``pass``, or ``violation`` with a category
    (and severity, default the category's). ``second``: a blind second review (kappa); ``adjudicate``: a third
    reviewer settles a double-review disagreement."""
    return label_items(db, run_id, reviewer, [{"item": seq, "verdict": verdict, "category": category, "severity": severity,
                                               "note": note, "second": second, "adjudicate": adjudicate}])[0]


def label_items(db: Database, run_id: Any, reviewer: str, labels: Iterable[dict], *, where: Callable[[int], str] | None = None
                ) -> list[SpotCheckLabel]:
    """Several labels in ONE transaction (all or nothing). ``where(k)`` names the k-th input
    (e.g. ``labels.csv:4``) in error messages."""
    out: list[SpotCheckLabel] = []
    with db.transaction() as s:
        run = locked(s, AuditRun, load_run(s, run_id).id)  # one labelling transaction per run at a time: the verdict comes in once
        if run.status != "SCANNED":
            raise Conflict(f"run {run.id} is {run.status}: its sample is drawn when every chunk is scanned (`ethics-review audit resume {run.id}`)")
        prod = s.get(Product, run.product_id)
        assert prod is not None  # the run's product (foreign key)
        who = load_actor(s, reviewer)
        require(who, Duty.LABEL, ProductContext(prod.name, prod.owner_team))
        lp, _ = pack_filter(run.settings["pack_ref"])
        for k, lab in enumerate(labels):
            at = f"{where(k)}: " if where else ""
            out.append(_label(s, run, lp.content_policy, reviewer, lab, at))
        settle(s, run, reviewer)  # the label that completes the sample brings the verdict in, in this transaction
    return out


def _label(s: Session, run: AuditRun, policy, reviewer: str, lab: dict, at: str) -> SpotCheckLabel:
    try:
        seq = int(str(lab.get("item")).lstrip("#"))
    except ValueError:
        raise InvalidInput(f"{at}item {lab.get('item')!r} is not a number; `ethics-review audit show {run.id} --items` lists them") from None
    item = locked(s, SpotCheckItem, (run.id, seq))  # two reviewers on one item: the second sees the first's label
    if item is None:
        raise NotFound(f"{at}run {run.id} has no spot-check item {seq} (items are 1..{run.sample_size})")
    verdict = str(lab.get("verdict") or "").strip().lower()
    if verdict not in VERDICTS:
        raise InvalidInput(f"{at}verdict {lab.get('verdict')!r} for item {seq}: expected pass or violation")
    category, severity = lab.get("category") or None, lab.get("severity")
    if verdict == "pass":
        if category:
            raise InvalidInput(f"{at}item {seq}: a pass takes no --category ({category!r}); label it violation, or drop the category")
        severity = None
    else:
        codes = [c.code for c in policy.categories]
        if not category or category not in codes:
            raise InvalidInput(f"{at}item {seq}: violation needs --category, one of {', '.join(codes)} (got {category!r})")
        if severity in (None, ""):
            severity = policy.category(category).default_severity
        try:
            severity = int(severity)
        except (TypeError, ValueError):
            severity = -1
        if not 0 <= severity <= 7:
            raise InvalidInput(f"{at}item {seq}: --severity {lab.get('severity')!r} must be an integer 0-7")
    existing = s.exec(select(SpotCheckLabel).where(SpotCheckLabel.run_id == run.id, SpotCheckLabel.seq == seq)).all()
    mine = next((x for x in existing if x.reviewer == reviewer), None)
    others = [x for x in existing if x.reviewer != reviewer]
    second = bool(lab.get("second"))
    if lab.get("adjudicate"):
        rnd = _adjudication_round(run, seq, existing, mine, reviewer, at)
    elif mine is not None:
        if second and mine.round == FIRST:
            raise Forbidden(f"{at}item {seq}: you gave its first review; a second review must come from a different reviewer")
        rnd = mine.round  # a reviewer corrects their own label (first, second or adjudication)
    elif run.double_review and not any(x.round == FIRST for x in others):
        rnd = FIRST  # in a double review the first label of an item is its first review, whatever the flag says
    elif second or (others and run.double_review):
        if any(x.round == SECOND for x in others):
            raise Conflict(f"{at}item {seq} already has its second review (by {next(x.reviewer for x in others if x.round == SECOND)})"
                           + ("; a third reviewer settles a disagreement with --adjudicate" if run.double_review else ""))
        rnd = SECOND
    elif any(x.round == FIRST for x in others):
        first = next(x.reviewer for x in others if x.round == FIRST)
        raise Conflict(f"{at}item {seq} is already labelled by {first}; pass --second for a blind second review")
    else:
        rnd = FIRST
    if rnd == SECOND and any(x.round == FIRST and x.reviewer == reviewer for x in existing):
        raise Forbidden(f"{at}item {seq}: a second review must come from a different reviewer")
    if run.verdict is not None and not (rnd == SECOND and mine is None and not run.double_review):
        # only a blind second review for agreement (kappa) may still come: it does not change a single-review verdict
        raise Conflict(f"{at}run {run.id}'s verdict is in ({run.verdict}, {run.verdict_at:%Y-%m-%d %H:%M}); its labels are final. "
                       f"A new audit run draws a new sample")
    before = None if mine is None else {"verdict": mine.verdict, "category": mine.category, "severity": mine.severity}
    assert run.id is not None  # a loaded run
    row = mine or SpotCheckLabel(run_id=run.id, seq=seq, reviewer=reviewer, round=rnd, verdict=verdict, labelled_at=utcnow())
    row.verdict, row.category, row.severity = verdict, category if verdict == "violation" else None, severity
    row.note, row.labelled_at = str(lab.get("note") or ""), utcnow()
    s.add(row)
    audit.record(s, actor=reviewer, action="content_audit.label", entity="audit_run", entity_id=f"{run.id}#{seq}", before=before,
                 after={"verdict": verdict, "category": row.category, "severity": severity, "round": rnd},
                 policy_version=f"{run.pack_id}@{run.pack_version}")
    s.flush()
    return row


def _adjudication_round(run: AuditRun, seq: int, existing: Sequence[SpotCheckLabel], mine: SpotCheckLabel | None, reviewer: str,
                        at: str) -> int:
    """A third reviewer settles an item its two reviewers disagree on (double review only); refused otherwise."""
    if not run.double_review:
        raise InvalidInput(f"{at}item {seq}: run {run.id} is not double-reviewed; --adjudicate settles disagreements between two reviews")
    by = {x.round: x for x in existing}
    if FIRST not in by or SECOND not in by:
        raise Conflict(f"{at}item {seq} has {'no' if not by else 'one'} review so far; adjudication follows two reviews that disagree")
    if by[FIRST].verdict == by[SECOND].verdict:
        raise Conflict(f"{at}item {seq}: {by[FIRST].reviewer} and {by[SECOND].reviewer} agree ({by[FIRST].verdict}); nothing to adjudicate")
    if mine is not None and mine.round != ADJUDICATION:
        raise Forbidden(f"{at}item {seq}: you gave its {'first' if mine.round == FIRST else 'second'} review; "
                        f"a third reviewer adjudicates ({by[FIRST].reviewer} and {by[SECOND].reviewer} may not)")
    if ADJUDICATION in by and by[ADJUDICATION].reviewer != reviewer:
        raise Conflict(f"{at}item {seq} is already adjudicated by {by[ADJUDICATION].reviewer}")
    return ADJUDICATION


# ---- batch labels from a file ----------------------------------------------------------------
def read_label_file(path: str | Path) -> tuple[list[dict], list[str]]:
    """Labels from CSV (header: item,verdict[,category,severity,note,second]) or JSONL
    (one object per line with the same keys). Returns (labels, 'file:line' of each)."""
    p = Path(path)
    if not p.is_file():
        raise InvalidInput(f"{path}: no such file; give a CSV or JSONL of labels (item, verdict, category, severity, note)")
    labels: list[dict] = []
    where: list[str] = []
    if p.suffix.lower() == ".csv":
        with p.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            if not reader.fieldnames or not {"item", "verdict"} <= {h.strip() for h in reader.fieldnames}:
                raise InvalidInput(f"{path}:1: header must include item and verdict (optional: category, severity, note, second)")
            for row in reader:
                labels.append({k.strip(): (v.strip() if isinstance(v, str) else v) for k, v in row.items() if k})
                where.append(f"{path}:{reader.line_num}")
    else:
        for n, raw in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except ValueError as exc:
                raise InvalidInput(f"{path}:{n}: not valid JSON ({exc}); write one object per line") from None
            if not isinstance(obj, dict):
                raise InvalidInput(f"{path}:{n}: expected an object with item and verdict")
            labels.append(obj)
            where.append(f"{path}:{n}")
    for lab in labels:
        for flag in ("second", "adjudicate"):
            lab[flag] = str(lab.get(flag, "")).strip().lower() in ("1", "true", "yes", "y")
    return labels, where
