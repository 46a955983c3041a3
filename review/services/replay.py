"""Replay: recompute a stored grade from its stored answers and pack, and say if it still matches.

Two comparisons: with the exact pack snapshot that graded it (must match unless the
grading code changed) and with the pack of the same id as installed now (a pack change
preview: would today's pack grade it differently?).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import col, select

from policies.loader import load_pack
from policies.schema import PolicyPack
from review.domain import grading
from review.domain.product import ProductProfile
from review.errors import NotFound, ReviewError
from review.services.common import get_review, initiation_assessment
from review.store.db import Database
from review.store.models import Assessment, PolicySnapshot


@dataclass(frozen=True)
class ReplayReport:
    review_id: int
    assessment_id: int
    stored_grade: str
    pack: str
    pack_hash: str
    replayed_grade: str
    matches: bool
    current_pack: str
    current_pack_hash: str
    current_grade: str | None
    current_matches: bool | None
    detail: str

    def to_json(self) -> dict[str, Any]:
        return self.__dict__.copy()


def replay(db: Database, review_id: Any) -> ReplayReport:
    with db.reading() as s:
        review, product = get_review(s, review_id)
        assert review.id is not None  # a stored review
        a = initiation_assessment(s, review.id)
        if a is None:
            raise NotFound(f"review {review.id} has no initiation assessment to replay")
        snap = s.get(PolicySnapshot, a.pack_hash)
        if snap is None:
            raise NotFound(f"review {review.id}: the pack snapshot {a.pack_hash[:12]} that graded it is missing")
        profile = ProductProfile.model_validate(product.profile)
    stored_pack = PolicyPack.model_validate(snap.body)
    again = grading.grade(stored_pack, profile, a.answers)
    diffs = _differences(a, again)
    matches = not diffs
    current_grade = current_matches = None
    try:
        cur = load_pack(a.pack_id)
        cur_hash = cur.content_hash
        cur_label = f"{cur.id}@{cur.version}"
        try:
            answers = grading.normalize_answers(cur.pack, profile, a.answers)
            current_grade = grading.grade(cur.pack, profile, answers).grade.value
            current_matches = current_grade == a.grade
        except ReviewError as exc:
            current_grade, current_matches = None, False
            diffs.append(f"current pack cannot grade the stored answers: {exc.message}")
    except ReviewError:
        cur_hash, cur_label = "", "(not installed)"
    detail = "; ".join(diffs) if diffs else "recomputed scores, levels, triggers and grade match the stored assessment"
    assert a.id is not None  # a stored assessment
    return ReplayReport(review.id, a.id, a.grade, f"{a.pack_id}@{a.pack_version}", a.pack_hash, again.grade.value, matches,
                        cur_label, cur_hash, current_grade, current_matches, detail)


def _differences(a: Assessment, r: grading.GradeResult) -> list[str]:
    out = []
    if r.grade.value != a.grade:
        out.append(f"grade {a.grade} -> {r.grade.value}")
    if r.dimension_scores != a.dimension_scores:
        changed = {k: (a.dimension_scores.get(k), v) for k, v in r.dimension_scores.items() if a.dimension_scores.get(k) != v}
        out.append(f"dimension scores changed: {changed}")
    if list(r.triggers_fired) != list(a.triggers_fired):
        out.append(f"triggers {a.triggers_fired} -> {list(r.triggers_fired)}")
    return out


@dataclass(frozen=True)
class PreviewChange:
    review_id: int
    product: str
    gate: str
    status: str
    stored_grade: str
    candidate_grade: str | None
    detail: str
    #: the grades as the packs name them (the installed pack for the stored grade, the candidate for its own)
    stored_label: str | None = None
    candidate_label: str | None = None

    def to_json(self) -> dict[str, Any]:
        return self.__dict__.copy()


def preview_pack(db: Database, candidate_ref: str, *, status: str | None = None, batch: int = 2000) -> tuple[int, list[PreviewChange]]:
    """Regrade every review graded by the candidate pack's id with the candidate pack.

    Returns (reviews examined, the ones whose grade would change or that the candidate pack
    can no longer grade). ``status``: only reviews in that status (e.g. APPROVED).
    """
    from review.store.models import Product, Review

    cand = load_pack(candidate_ref)
    try:
        installed = load_pack(cand.id).pack
    except ReviewError:  # a candidate for a pack not installed: its own names for both
        installed = cand.pack
    changes: list[PreviewChange] = []
    examined = 0
    last = 0
    while True:
        with db.reading() as s:
            q = (select(Review, Product, Assessment)
                 .join(Product, col(Product.id) == col(Review.product_id))
                 .join(Assessment, (col(Assessment.review_id) == col(Review.id)) & (col(Assessment.kind) == "initiation"))
                 .where(Assessment.pack_id == cand.id, col(Review.id) > last)
                 .order_by(col(Review.id), col(Assessment.id).desc()))
            if status:
                q = q.where(Review.status == status.upper())
            rows = s.exec(q.limit(batch)).all()
        if not rows:
            break
        seen: set[int] = set()
        for review, product, a in rows:
            assert review.id is not None  # a stored review
            last = max(last, review.id)
            if review.id in seen:
                continue  # older assessment of the same review (resubmission)
            seen.add(review.id)
            examined += 1
            profile = ProductProfile.model_validate(product.profile)
            current = review.grade or a.grade
            try:
                answers = grading.normalize_answers(cand.pack, profile, a.answers)
                g = grading.grade(cand.pack, profile, answers).grade.value
            except ReviewError as exc:
                changes.append(PreviewChange(review.id, product.name, review.gate, review.status, current, None, f"cannot grade: {exc.message}",
                                             review.grade_label or current))
                continue
            if g != a.grade:
                was, new = installed.label(a.grade), cand.pack.label(g)
                detail = f"{a.grade} -> {g}" if (was, new) == (a.grade, g) else f"{was} ({a.grade}) -> {new} ({g})"
                changes.append(PreviewChange(review.id, product.name, review.gate, review.status, a.grade, g, detail, was, new))
    return examined, changes
