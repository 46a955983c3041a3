"""Spot-check labelling: one label (pass, or violation with category and severity), a
batch from a CSV/JSONL file in ONE transaction (all or nothing), blind second reviews. The rounds and the label
files are ``spot_rounds``'s, shared with the model evaluation's spot check (``eval_spot``)."""

from __future__ import annotations

from typing import Any, Callable, Iterable

from sqlmodel import Session, select

from review.domain.duties import Duty, ProductContext, require
from review.errors import Conflict, InvalidInput, NotFound
from review.services.common import load_actor, locked
from review.services.audit_verdict import settle
from policies.loader import load_pack
from review.services.content_audit import VERDICTS, load_run
from review.services.content_report import SECOND
from review.services.spot_rounds import item_seq, label_round, read_label_file, save_label  # noqa: F401 - read_label_file: the audit's label files
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
        # the pack's categories, not its compiled filter: compiling (a second or more in a fresh process) while this
        # transaction holds the write lock kept every other labeller waiting that long
        policy = load_pack(run.settings["pack_ref"]).content_policy
        if policy is None:
            raise InvalidInput(f"run {run.id}: pack {run.pack_id} has no content_safety section any more; its categories cannot be checked")
        for k, lab in enumerate(labels):
            at = f"{where(k)}: " if where else ""
            out.append(_label(s, run, policy, reviewer, lab, at))
        settle(s, run, reviewer)  # the label that completes the sample brings the verdict in, in this transaction
    return out


def _label(s: Session, run: AuditRun, policy, reviewer: str, lab: dict, at: str) -> SpotCheckLabel:
    seq = item_seq(lab, at, f"ethics-review audit show {run.id} --items")
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
    rnd = label_round(existing, reviewer, item=f"{at}item {seq}", second=bool(lab.get("second")), adjudicate=bool(lab.get("adjudicate")),
                      double_review=run.double_review, verdict_of=lambda x: x.verdict, adjudication=run.double_review,
                      no_adjudication=f"run {run.id} is not double-reviewed")
    if run.verdict is not None and not (rnd == SECOND and mine is None and not run.double_review):
        # only a blind second review for agreement (kappa) may still come: it does not change a single-review verdict
        raise Conflict(f"{at}run {run.id}'s verdict is in ({run.verdict}, {run.verdict_at:%Y-%m-%d %H:%M}); its labels are final. "
                       f"A new audit run draws a new sample")
    run_id = run.id
    assert run_id is not None  # a loaded run
    return save_label(s, mine, lambda: SpotCheckLabel(run_id=run_id, seq=seq, reviewer=reviewer, round=rnd, verdict=verdict,
                                                      labelled_at=utcnow()),
                      {"verdict": verdict, "category": category if verdict == "violation" else None, "severity": severity},
                      note=str(lab.get("note") or ""), reviewer=reviewer, rnd=rnd, action="content_audit.label", entity="audit_run",
                      entity_id=f"{run.id}#{seq}", policy_version=f"{run.pack_id}@{run.pack_version}")
