"""Risk grading: questionnaire answers + product profile -> dimension levels -> grade.

Rules (from the mission brief, encoded by the pack):

* each answer adds points to one or more dimensions; a dimension's level comes from its
  thresholds;
* the overall grade is the **highest** dimension level (non-compensatory: a critical
  privacy risk is never averaged away by low scores elsewhere);
* hard triggers then floor the grade (``floor``) or fix it (``fix``);
* the residual grade (re-verification gate) subtracts the mitigation credit of VERIFIED
  controls only, and hard triggers still apply.

Pure functions: no database, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

from policies.schema import Condition, Control, Dimension, PolicyPack, Question
from review.domain.grades import Grade
from review.domain.product import ProductProfile
from review.errors import InvalidInput, clip

Answers = Mapping[str, Sequence[str]]


# ---- conditions ------------------------------------------------------------------------
def holds(cond: Condition, profile: ProductProfile, answers: Answers) -> bool:
    """Evaluate a pack condition against a profile and (normalized) answers."""
    if cond.answer is not None:
        given = answers.get(cond.answer, ())
        return any(v in given for v in cond.any_of or ())
    if cond.profile is not None:
        values = set(profile.facet(cond.profile))
        return any(v in values for v in cond.any_of or ())
    if cond.all is not None:
        return all(holds(c, profile, answers) for c in cond.all)
    if cond.any is not None:
        return any(holds(c, profile, answers) for c in cond.any)
    assert cond.not_ is not None
    return not holds(cond.not_, profile, answers)


def applicable_questions(pack: PolicyPack, profile: ProductProfile, answers: Answers) -> list[Question]:
    """The questions this product must answer, in pack order (conditions look backwards only)."""
    return [q for q in pack.questions if q.when is None or holds(q.when, profile, answers)]


# ---- answers ---------------------------------------------------------------------------
def normalize_answers(pack: PolicyPack, profile: ProductProfile, raw: Mapping[str, object]) -> dict[str, list[str]]:
    """Validate raw answers (``{question: option | [options]}``) against the pack.

    Raises ``InvalidInput`` naming ``answers.<question>`` and the fix for every problem at once
    (``N problems: ...; ...``): an unknown question, an unset answer (the template leaves every
    answer unset), an invalid choice, several choices on a single-choice question, a missing
    answer to an applicable question, an answer to a question that does not apply. YAML reads
    an unquoted ``yes`` / ``no`` as true / false: that is taken as the option ``yes`` / ``no``.
    """
    if not isinstance(raw, Mapping):
        raise InvalidInput(f"answers: expected a mapping of question id -> option id, got {type(raw).__name__}")
    problems: list[str] = []
    out: dict[str, list[str]] = {}
    unset: set[str] = set()
    for qid, value in raw.items():
        q = pack.question(str(qid))
        if q is None:
            hint = _closest(str(qid), [x.id for x in pack.questions])
            problems.append(f"answers.{qid}: unknown question in pack {pack.id} {pack.version}{hint}")
            continue
        if value is None:
            unset.add(q.id)  # reported below, once we know whether the question applies
            continue
        values = value if isinstance(value, list) else [value]
        if not values:
            problems.append(f"answers.{qid}: empty answer; choose {'one' if q.kind == 'single' else 'one or more'} of: {_opts(q)}")
            continue
        if q.kind == "single" and len(values) != 1:
            problems.append(f"answers.{qid}: single-choice question, got {len(values)} answers; choose one of: {_opts(q)}")
            continue
        ids = {o.id for o in q.options}
        clean: list[str] = []
        for v in values:
            if isinstance(v, bool) and ("yes" if v else "no") in ids:
                v = "yes" if v else "no"  # an unquoted yes/no
            if not isinstance(v, (str, int)) or isinstance(v, bool) or str(v) not in ids:
                problems.append(f"answers.{qid}: invalid choice {clip(v)}; choose from: {_opts(q)}")
                break
            if str(v) not in clean:
                clean.append(str(v))
        else:
            out[q.id] = clean
    asked = applicable_questions(pack, profile, out)
    asked_ids = {q.id for q in asked}
    for qid in out:
        if qid not in asked_ids:
            problems.append(f"answers.{qid}: this question does not apply to this product (its condition is not met); remove the answer")
    for q in asked:
        if q.id in unset:
            problems.append(f"answers.{q.id}: unset; answer {q.text!r} with {'one' if q.kind == 'single' else 'one or more'} of: {_opts(q)}")
        elif q.id not in out and not any(p.startswith(f"answers.{q.id}:") for p in problems):
            problems.append(f"answers.{q.id}: missing answer to {q.text!r}; choose {'one' if q.kind == 'single' else 'one or more'} of: {_opts(q)}")
    for qid in sorted(unset - asked_ids):
        problems.append(f"answers.{qid}: this question does not apply to this product (its condition is not met); remove the line")
    if problems:
        raise InvalidInput(problems[0] if len(problems) == 1 else f"{len(problems)} problems: " + "; ".join(problems))
    return {q.id: out[q.id] for q in asked}


def _opts(q: Question) -> str:
    return ", ".join(o.id for o in q.options)


def _closest(word: str, candidates: Iterable[str]) -> str:
    import difflib

    match = difflib.get_close_matches(word, list(candidates), n=1)
    return f"; did you mean {match[0]!r}?" if match else ""


# ---- grading ---------------------------------------------------------------------------
@dataclass(frozen=True)
class GradeResult:
    dimension_scores: dict[str, int]
    dimension_levels: dict[str, Grade]
    #: Highest dimension level, before hard triggers.
    base_grade: Grade
    grade: Grade
    triggers_fired: tuple[str, ...] = ()
    mitigation: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {
            "dimension_scores": self.dimension_scores,
            "dimension_levels": {k: v.value for k, v in self.dimension_levels.items()},
            "base_grade": self.base_grade.value,
            "grade": self.grade.value,
            "triggers_fired": list(self.triggers_fired),
            "mitigation": self.mitigation,
        }


def level_for(dim: Dimension, score: int) -> Grade:
    t = dim.thresholds
    if t.unacceptable is not None and score >= t.unacceptable:
        return Grade.UNACCEPTABLE
    if score >= t.high:
        return Grade.HIGH
    if score >= t.medium:
        return Grade.MEDIUM
    return Grade.LOW


def grade(
    pack: PolicyPack,
    profile: ProductProfile,
    answers: Answers,
    mitigation: Mapping[str, int] | None = None,
) -> GradeResult:
    """Grade normalized answers. ``mitigation`` takes points off dimensions (residual grade)."""
    scores = {d.id: 0 for d in pack.dimensions}
    for q in applicable_questions(pack, profile, answers):
        chosen = set(answers.get(q.id, ()))
        for o in q.options:
            if o.id in chosen:
                for dim, pts in o.scores.items():
                    scores[dim] += pts
    credit = {k: v for k, v in (mitigation or {}).items() if v}
    for dim, pts in credit.items():
        if dim in scores:
            scores[dim] = max(0, scores[dim] - pts)
    levels = {d.id: level_for(d, scores[d.id]) for d in pack.dimensions}
    base = max(levels.values(), default=Grade.LOW)
    final = base
    fired: list[str] = []
    fixes: list[Grade] = []
    for t in pack.triggers:
        if holds(t.when, profile, answers):
            fired.append(t.id)
            if t.floor is not None and t.floor > final:
                final = t.floor
            if t.fix is not None:
                fixes.append(t.fix)
    if fixes:
        # A fixed grade wins over scores and floors; several fixes: the strictest.
        final = max(fixes)
    return GradeResult(scores, levels, base, final, tuple(fired), dict(credit))


def overridden(result: GradeResult, new: Grade) -> GradeResult:
    """The grading as a committee override states it, for deriving controls: raising the grade raises every
    dimension to at least ``new`` (the override does not say which dimension was underrated, so all are);
    lowering it caps every dimension at ``new``. Fired triggers stay fired: their controls stay required."""
    if new >= result.grade:
        levels = {d: max(level, new) for d, level in result.dimension_levels.items()}
    else:
        levels = {d: min(level, new) for d, level in result.dimension_levels.items()}
    return GradeResult(result.dimension_scores, levels, max(levels.values(), default=new), new, result.triggers_fired, result.mitigation)


def required_controls(pack: PolicyPack, profile: ProductProfile, answers: Answers, result: GradeResult) -> list[Control]:
    """Controls this product must put in place: by dimension level, conditions and triggers."""
    out: list[Control] = []
    fired = set(result.triggers_fired)
    for c in pack.controls:
        by_level = result.dimension_levels.get(c.dimension, Grade.LOW) >= c.required_from
        by_trigger = bool(fired.intersection(c.triggers))
        if not (by_level or by_trigger):
            continue
        if c.when is not None and not holds(c.when, profile, answers):
            continue
        out.append(c)
    return out


def mitigation_credit(pack: PolicyPack, verified_control_ids: Iterable[str]) -> dict[str, int]:
    """Mitigation points per dimension from controls that were VERIFIED (only those count)."""
    credit: dict[str, int] = {}
    for cid in verified_control_ids:
        c = pack.control(cid)
        if c is not None and c.mitigation:
            credit[c.dimension] = credit.get(c.dimension, 0) + c.mitigation
    return credit


def residual_grade(pack: PolicyPack, profile: ProductProfile, answers: Answers, verified_control_ids: Iterable[str]) -> GradeResult:
    return grade(pack, profile, answers, mitigation_credit(pack, verified_control_ids))


def sla_days(pack: PolicyPack, g: Grade) -> int:
    return pack.review_sla_days.get(g, min(pack.review_sla_days.values()))


@dataclass(frozen=True)
class QuorumProgress:
    """Approvals recorded in one round at one gate, against the pack's quorum rule."""

    need: int
    chair_required: bool
    approvers: frozenset[str] = frozenset()
    chair_approved: bool = False

    @property
    def met(self) -> bool:
        return len(self.approvers) >= self.need and (self.chair_approved or not self.chair_required)

    def with_approval(self, actor: str, is_chair: bool) -> "QuorumProgress":
        return QuorumProgress(self.need, self.chair_required, self.approvers | {actor}, self.chair_approved or is_chair)

    def missing(self) -> list[str]:
        out = []
        if len(self.approvers) < self.need:
            out.append(f"{self.need - len(self.approvers)} more approval(s) from distinct reviewers")
        if self.chair_required and not self.chair_approved:
            out.append("the chair's approval")
        return out


def quorum_progress(pack: PolicyPack, gate: str, g: Grade, approvals: Iterable[tuple[str, bool]]) -> QuorumProgress:
    """Progress toward the quorum for ``g`` at ``gate`` given (approver, is chair) pairs."""
    need, chair = quorum_for(pack, gate, g)
    q = QuorumProgress(need, chair)
    for actor, is_chair in approvals:
        q = q.with_approval(actor, is_chair)
    return q


def quorum_for(pack: PolicyPack, gate: str, g: Grade) -> tuple[int, bool]:
    """(approvals needed, chair required) for a decision at ``gate`` on a ``g``-graded product."""
    need, chair = 1, False
    for q in pack.quorum:
        if q.gate == gate and g >= q.min_grade:
            need, chair = max(need, q.approvals), chair or q.require_chair
    return need, chair


@dataclass(frozen=True)
class CrossCheckFinding:
    """A pack cross-check that does not hold for a product: ``level`` warn or refuse."""

    id: str
    level: str
    message: str


def cross_check(pack: PolicyPack, profile: ProductProfile, answers: Answers, grade_: Grade) -> list[CrossCheckFinding]:
    """The pack's cross-checks that fail for this product (at its computed grade), in pack order."""
    out = []
    for c in pack.cross_checks:
        applies = (c.when is None or holds(c.when, profile, answers)) and (c.grade_at_least is None or grade_ >= c.grade_at_least)
        if not applies:
            continue
        ok = (c.expect is None or holds(c.expect, profile, answers)) and (not c.needs_customers or bool(profile.customers))
        if not ok:
            out.append(CrossCheckFinding(c.id, c.level, c.message))
    return out
