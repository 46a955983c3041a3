"""Submission use cases: validate a product submission, grade it, persist it (or resubmit).

``prepare_submission`` validates without touching the database (the CLI and the bench use
it too); ``submit`` is one transaction: product, review, assessment, controls, audit row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Mapping

from pydantic import ValidationError
from sqlmodel import Session, col, select

from policies.loader import LoadedPack, load_pack, pack_snapshot
from review.domain import grading
from review.domain.duties import Duty, Role, require
from review.domain.lifecycle import Action, Gate, Status
from review.domain.product import ProductProfile
from review.errors import Forbidden, InvalidInput, clip
from review.services import audit
from review.services.common import case_state, load_actor, review_snapshot, save_review
from review.services.notifications import notify
from review.store.db import Database, utcnow
from review.store.models import Assessment, ControlRequirement, PolicySnapshot, Product, Review


# ---- submission --------------------------------------------------------------------------
@dataclass(frozen=True)
class Submission:
    """A validated submission: profile + normalized answers + the pack that grades them."""

    profile: ProductProfile
    answers: dict[str, list[str]]
    pack: LoadedPack
    result: grading.GradeResult
    controls: list[Any] = field(default_factory=list)
    #: the pack cross-checks that warn (the refusing ones stopped the submission)
    warnings: list[grading.CrossCheckFinding] = field(default_factory=list)


def registered_pack(pack_id: str, source: str) -> LoadedPack:
    """The installed pack a product file names (``policy:``): by id, from the packs the committee installed."""
    from policies.loader import available_packs

    installed = available_packs()
    if pack_id not in installed or pack_id.endswith((".yaml", ".yml")):
        raise InvalidInput(f"{source}: product.policy: {pack_id!r} is not an installed policy pack; installed: {', '.join(installed)} "
                           "(the committee installs packs; a product file only names one)")
    return load_pack(pack_id)


def _profile_problem(e: Any) -> str:
    loc = "product" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in e["loc"])
    if e["type"] == "missing":
        return f"{loc}: required field is missing"
    if e["type"] == "extra_forbidden":
        return f"{loc}: unknown field"
    return f"{loc}: bad value {clip(e.get('input'))}: {e['msg']}"


def prepare_submission(doc: Any, *, source: str = "submission") -> Submission:
    """Validate a submission document (``{product: {...}, answers: {...}}``) without touching the database.

    Every problem raises ``InvalidInput`` naming ``source``, the field and the fix.
    """
    if not isinstance(doc, Mapping):
        raise InvalidInput(f"{source}: expected a mapping with 'product' and 'answers', got {type(doc).__name__}")
    unknown = set(doc) - {"product", "answers"}
    if unknown:
        raise InvalidInput(f"{source}: unknown top-level field(s) {sorted(unknown)}; expected 'product' and 'answers'")
    if "product" not in doc:
        raise InvalidInput(f"{source}: missing 'product' (the product profile: name, owner_team, business_line, ...)")
    if "answers" not in doc:
        raise InvalidInput(f"{source}: missing 'answers' (the initiation questionnaire; `ethics-review policy show` lists the questions)")
    try:
        profile = ProductProfile.model_validate(doc["product"])
    except ValidationError as exc:
        problems = [_profile_problem(e) for e in exc.errors(include_url=False)]
        raise InvalidInput(f"{source}: " + (problems[0] if len(problems) == 1 else f"{len(problems)} problems: " + "; ".join(problems))) from None
    pack = registered_pack(profile.policy, source)
    try:
        answers = grading.normalize_answers(pack.pack, profile, doc["answers"] or {})
    except InvalidInput as exc:
        raise InvalidInput(f"{source}: {exc.message}") from None
    result = grading.grade(pack.pack, profile, answers)
    checks = grading.cross_check(pack.pack, profile, answers, result.grade)
    refused = [c for c in checks if c.level == "refuse"]
    if refused:
        raise InvalidInput(f"{source}: " + ("" if len(refused) == 1 else f"{len(refused)} cross-checks of pack {pack.id} fail: ")
                           + "; ".join(f"cross-check {c.id}: {c.message}" for c in refused))
    controls = grading.required_controls(pack.pack, profile, answers, result)
    return Submission(profile, answers, pack, result, controls, [c for c in checks if c.level == "warn"])


def submit(db: Database, doc: Any, *, actor: str, source: str = "submission") -> Review:
    """Submit a product for its initiation review (or resubmit after changes were requested)."""
    sub = prepare_submission(doc, source=source)
    with db.transaction() as s:
        who = load_actor(s, actor)
        require(who, Duty.SUBMIT)
        if not who.has(Role.ADMIN) and who.team != sub.profile.owner_team:
            raise Forbidden(f"{source}: product.owner_team: {sub.profile.owner_team!r} is not your team ({who.team}); submit products of your own team")
        product = s.exec(select(Product).where(Product.name == sub.profile.name)).first()
        if product is None:
            return _create(s, sub, who.username)
        return _resubmit(s, sub, product, who.username, source)


def _create(s: Session, sub: Submission, actor: str) -> Review:
    now = utcnow()
    p = sub.profile
    product = Product(
        name=p.name, owner_team=p.owner_team, business_line=p.business_line, description=p.description,
        profile=p.model_dump(mode="json"), policy_id=sub.pack.id, created_by=actor, created_at=now,
    )
    s.add(product)
    s.flush()
    assert product.id is not None  # flushed
    g = sub.result.grade
    review = Review(
        product_id=product.id, gate=Gate.INITIATION.value, status=Status.SUBMITTED.value, grade=g.value,
        grade_label=sub.pack.pack.label(g), submitted_by=actor, policy_id=sub.pack.id, policy_version=sub.pack.version,
        priority=g.rank, due_at=now + timedelta(days=grading.sla_days(sub.pack.pack, g)),
        created_at=now, updated_at=now,
    )
    s.add(review)
    s.flush()
    _store_assessment(s, review, sub, actor, kind="initiation")
    sync_controls(s, review, sub.controls, actor)
    audit.record(s, actor=actor, action="submit", entity="review", entity_id=review.id, before=None,
                 after={**review_snapshot(review), "product": p.name, "triggers": list(sub.result.triggers_fired),
                        **({"warnings": [w.id for w in sub.warnings]} if sub.warnings else {})},
                 policy_version=_pv(sub.pack))
    return review


def _resubmit(s: Session, sub: Submission, product: Product, actor: str, source: str) -> Review:
    review = s.exec(select(Review).where(Review.product_id == product.id).order_by(col(Review.id).desc())).first()
    assert review is not None
    state = case_state(review)
    if state.gate is not Gate.INITIATION or state.status not in (Status.DRAFT, Status.CHANGES_REQUESTED):
        raise InvalidInput(
            f"{source}: product.name: {product.name!r} already has review {review.id} at {review.gate}/{review.status}; "
            "a product is resubmitted only while its initiation review is DRAFT or CHANGES_REQUESTED"
        )
    if product.owner_team != sub.profile.owner_team:
        raise InvalidInput(f"{source}: product.owner_team: {sub.profile.owner_team!r} differs from the registered owner {product.owner_team!r}")
    new = state.apply(Action.SUBMIT)
    before = review_snapshot(review)
    product.profile = sub.profile.model_dump(mode="json")
    product.business_line, product.description = sub.profile.business_line, sub.profile.description
    s.add(product)
    g = sub.result.grade
    save_review(s, review, review.version, gate=new.gate.value, status=new.status.value, grade=g.value,
                grade_label=sub.pack.pack.label(g), policy_id=sub.pack.id, policy_version=sub.pack.version, priority=g.rank, round=review.round + 1,
                due_at=utcnow() + timedelta(days=grading.sla_days(sub.pack.pack, g)))
    _store_assessment(s, review, sub, actor, kind="initiation")
    sync_controls(s, review, sub.controls, actor)
    audit.record(s, actor=actor, action="resubmit", entity="review", entity_id=review.id, before=before,
                 after=review_snapshot(review), policy_version=_pv(sub.pack))
    return review


def _pv(pack: LoadedPack) -> str:
    return f"{pack.id}@{pack.version}#{pack.content_hash[:12]}"


def _store_assessment(s: Session, review: Review, sub: Submission, actor: str, *, kind: str) -> Assessment:
    if s.get(PolicySnapshot, sub.pack.content_hash) is None:
        s.add(PolicySnapshot(content_hash=sub.pack.content_hash, pack_id=sub.pack.id, version=sub.pack.version,
                             body=pack_snapshot(sub.pack), created_at=utcnow()))
    r = sub.result
    assert review.id is not None  # a stored review
    a = Assessment(
        review_id=review.id, gate=review.gate, kind=kind, pack_id=sub.pack.id, pack_version=sub.pack.version,
        pack_hash=sub.pack.content_hash, answers=sub.answers, dimension_scores=r.dimension_scores,
        dimension_levels={k: v.value for k, v in r.dimension_levels.items()}, base_grade=r.base_grade.value,
        grade=r.grade.value, triggers_fired=list(r.triggers_fired), mitigation=r.mitigation,
        created_by=actor, created_at=utcnow(), warnings=[{"id": w.id, "message": w.message} for w in sub.warnings] or None,
    )
    s.add(a)
    if sub.warnings:
        s.flush()
        notify(s, kind="submission-warning", recipient="committee", review_id=review.id,
               subject=f"{sub.profile.name}: {len(sub.warnings)} cross-check warning(s) on submission",
               body="; ".join(f"{w.id}: {w.message}" for w in sub.warnings))
    return a


def add_missing_controls(s: Session, review: Review, controls: list[Any], actor: str,
                         existing: dict[str, ControlRequirement] | None = None) -> list[str]:
    """Add a REQUIRED row for each pack control the review does not have yet; returns their ids."""
    if existing is None:
        existing = {c.control_id: c for c in s.exec(select(ControlRequirement).where(ControlRequirement.review_id == review.id)).all()}
    now = utcnow()
    added = []
    for c in controls:
        if c.id in existing:
            continue
        assert review.id is not None  # a stored review
        s.add(ControlRequirement(
            review_id=review.id, control_id=c.id, title=c.title, dimension=c.dimension,
            required_from=c.required_from.value, verify_gate=c.verified_at, evidence_expected=c.evidence,
            status="REQUIRED", updated_by=actor, updated_at=now,
        ))
        added.append(c.id)
    return added


def sync_controls(s: Session, review: Review, controls: list[Any], actor: str) -> None:
    """Make the review's REQUIRED controls match the grading (keep verdicts already given)."""
    existing = {c.control_id: c for c in s.exec(select(ControlRequirement).where(ControlRequirement.review_id == review.id)).all()}
    add_missing_controls(s, review, controls, actor, existing)
    wanted = {c.id for c in controls}
    for cid, row in existing.items():
        if cid not in wanted and row.status == "REQUIRED":
            s.delete(row)
