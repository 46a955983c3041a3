"""Risk grading: questionnaire answers + product profile -> dimension levels -> grade.

Rules (from the mission brief, encoded by the pack):

* each answer adds points to one or more dimensions (free-text answers add none);
* ``grading: highest`` (the default): a dimension's level comes from its thresholds and the
  overall grade is the **highest** dimension level (non-compensatory: a critical privacy risk
  is never averaged away by low scores elsewhere);
* ``grading: additive`` (Canada's AIA and the like): the weighted points of the scored
  sections are summed, mitigation rules scale the sum (``x 0.85`` once the mitigation section
  reaches 80% of its maximum), and the level is the highest whose cut-off, a fraction of the
  maximum attainable score, the sum is above; every dimension takes that level;
* hard triggers then floor the grade (``floor``) or fix it (``fix``);
* the residual grade (re-verification gate) subtracts the mitigation credit of VERIFIED
  controls only, and hard triggers still apply.

Pure functions: no database, no I/O.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Iterable, Mapping, Protocol, Sequence

from policies.schema import Condition, Control, Dimension, PolicyPack, Question
from review.domain.grades import Grade
from review.domain.product import ProductProfile
from review.errors import InvalidInput, clip

Answers = Mapping[str, Sequence[str]]


class Facets(Protocol):
    """What a condition reads of a product: its profile lists (``ProductProfile``)."""

    def facet(self, name: str) -> list[str]: ...


# ---- conditions ------------------------------------------------------------------------
def holds(cond: Condition, profile: Facets, answers: Answers) -> bool:
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


def applicable_questions(pack: PolicyPack, profile: Facets, answers: Answers) -> list[Question]:
    """The questions this product must answer, in pack order (conditions look backwards only)."""
    return [q for q in pack.questions if q.when is None or holds(q.when, profile, answers)]


# ---- answers ---------------------------------------------------------------------------
def normalize_answers(pack: PolicyPack, profile: ProductProfile, raw: Mapping[str, object]) -> dict[str, list[str]]:
    """Validate raw answers (``{question: option | [options] | text}``) against the pack.

    Raises ``InvalidInput`` naming ``answers.<question>`` and the fix for every problem at once
    (``N problems: ...; ...``): an unknown question, an unset answer (the template leaves every
    answer unset), an invalid choice, several choices on a single-choice question, a missing
    answer to an applicable question, an answer to a question that does not apply. YAML reads
    an unquoted ``yes`` / ``no`` as true / false: that is taken as the option ``yes`` / ``no``.
    An optional question may stay unset; a free-text answer is kept as a one-item list; a
    ``multiple`` question with ``allow_none`` takes ``[]``.
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
        if q.kind == "text" and isinstance(value, list) and len(value) == 1:
            value = value[0]  # the stored form (replay, preview): one text in a list
        if value is None or (q.kind == "text" and isinstance(value, str) and not value.strip()):
            unset.add(q.id)  # reported below, once we know whether the question applies
            continue
        if q.kind == "text":
            problem = _text_problem(q, value)
            if problem:
                problems.append(f"answers.{qid}: {problem}")
            else:
                out[q.id] = [str(value).strip()]
            continue
        values = value if isinstance(value, list) else [value]
        if not values:
            if q.allow_none:
                out[q.id] = []
            else:
                problems.append(f"answers.{qid}: empty answer; choose {_how_many(q)} of: {_opts(q)}")
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
        if q.optional or q.id in out:
            continue
        if q.id in unset:
            problems.append(f"answers.{q.id}: unset; answer {q.text!r} with {_how_many(q)} of: {_opts(q)}")
        elif not any(p.startswith(f"answers.{q.id}:") for p in problems):
            problems.append(f"answers.{q.id}: missing answer to {q.text!r}; {'write' if q.kind == 'text' else 'choose'} {_how_many(q)}"
                            + (f" of: {_opts(q)}" if q.options else ""))
    for qid in sorted(unset - asked_ids):
        problems.append(f"answers.{qid}: this question does not apply to this product (its condition is not met); remove the line")
    if problems:
        raise InvalidInput(problems[0] if len(problems) == 1 else f"{len(problems)} problems: " + "; ".join(problems))
    return {q.id: out[q.id] for q in asked if q.id in out}


def _how_many(q: Question) -> str:
    if q.kind == "text":
        return f"a text of at most {q.max_length} characters"
    if q.kind == "single":
        return "one"
    return "none, one or more ([] for none)" if q.allow_none else "one or more"


def _text_problem(q: Question, value: object) -> str:
    """Why ``value`` is not a free-text answer to ``q`` (a string, not too long, no control characters), or ""."""
    if not isinstance(value, str):
        return f"expected text (a quoted string), got {clip(value)}"
    if len(value) > q.max_length:
        return f"{len(value)} characters is over the {q.max_length} this question takes; shorten it"
    if any(ord(ch) < 32 and ch not in "\n\t" or 0x7F <= ord(ch) < 0xA0 for ch in value):
        return "control characters are not allowed in a text answer; remove them"
    return ""


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
    #: Additive packs: the score the level was read from (after mitigation rules) and the maximum attainable.
    score: Fraction | None = None
    max_score: int | None = None

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "dimension_scores": self.dimension_scores,
            "dimension_levels": {k: v.value for k, v in self.dimension_levels.items()},
            "base_grade": self.base_grade.value,
            "grade": self.grade.value,
            "triggers_fired": list(self.triggers_fired),
            "mitigation": self.mitigation,
        }
        if self.score is not None:
            out["score"] = round(float(self.score), 4)
            out["max_score"] = self.max_score
        return out


def level_for(dim: Dimension, score: int) -> Grade:
    t = dim.thresholds
    assert t is not None  # the loader requires thresholds under grading: highest
    if t.unacceptable is not None and score >= t.unacceptable:
        return Grade.UNACCEPTABLE
    if score >= t.high:
        return Grade.HIGH
    if score >= t.medium:
        return Grade.MEDIUM
    return Grade.LOW


def points(pack: PolicyPack, profile: Facets, answers: Answers) -> dict[str, int]:
    """Points per dimension from the answers to the questions that apply."""
    scores = {d.id: 0 for d in pack.dimensions}
    for q in applicable_questions(pack, profile, answers):
        chosen = set(answers.get(q.id, ()))
        for o in q.options:
            if o.id in chosen:
                for dim, pts in o.scores.items():
                    scores[dim] += pts
    return scores


def levels_from_scores(pack: PolicyPack, scores: Mapping[str, int]) -> tuple[dict[str, Grade], Grade, Fraction | None]:
    """Dimension levels, the level before hard triggers, and (additive) the score it was read from."""
    gr = pack.grading
    if gr.model == "highest":
        levels = {d.id: level_for(d, scores[d.id]) for d in pack.dimensions}
        return levels, max(levels.values(), default=Grade.LOW), None
    maxima = max_scores(pack)
    score = Fraction(sum(sec.weight * scores[sec.dimension] for sec in gr.score))
    for rule in gr.mitigation:
        if scores[rule.section] >= _exact(rule.at_least) * maxima.sections[rule.section]:
            score *= _exact(rule.factor)
            if rule.rounding == "nearest":
                score = Fraction(math.floor(score + Fraction(1, 2)))
    ladder = pack.all_levels()
    level = ladder[0].grade
    for lvl in ladder[1:]:
        if score > _exact(gr.cut_offs[lvl.grade]) * maxima.total:
            level = lvl.grade
    return {d.id: level for d in pack.dimensions}, level, score


def _exact(x: float) -> Fraction:
    """A pack's decimal (0.85) as the exact fraction it was written as (17/20), so a cut-off is never missed by a rounding."""
    return Fraction(str(x))


def grade(
    pack: PolicyPack,
    profile: Facets,
    answers: Answers,
    mitigation: Mapping[str, int] | None = None,
) -> GradeResult:
    """Grade normalized answers. ``mitigation`` takes points off dimensions (residual grade)."""
    scores = points(pack, profile, answers)
    credit = {k: v for k, v in (mitigation or {}).items() if v}
    for dim, pts in credit.items():
        if dim in scores:
            scores[dim] = max(0, scores[dim] - pts)
    levels, base, score = levels_from_scores(pack, scores)
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
    return GradeResult(scores, levels, base, final, tuple(fired), dict(credit), score,
                       max_scores(pack).total if score is not None else None)


# ---- the maximum attainable score (additive packs) -------------------------------------
#: Answer combinations of the questions that conditions look at, beyond which a pack is refused (the maximum is exact).
MAX_COMBINATIONS = 200_000


@dataclass(frozen=True)
class Maxima:
    """The highest weighted sum of the scored sections any product can reach, and each section's own highest."""

    total: int
    sections: dict[str, int]


def grading_problems(pack: PolicyPack) -> list[tuple[str, str]]:
    """What the loader refuses in an additive pack once its maxima are known: (path, problem) pairs.

    No points to score, a mitigation section that can score none, or a level no whole score reaches
    (its cut-off and the next one too close together for the pack's maximum)."""
    gr = pack.grading
    if gr.model != "additive":
        return []
    maxima = max_scores(pack)
    if maxima.total <= 0:
        return [("grading.score", f"the sections {[s.dimension for s in gr.score]} can score no points (maximum 0), so no level above "
                 "the lowest is reachable; give their options points")]
    problems = []
    for i, rule in enumerate(gr.mitigation):
        if maxima.sections[rule.section] <= 0:
            problems.append((f"grading.mitigation[{i}].section", f"{rule.section!r} can score no points (maximum 0); give its options points"))
    ladder = pack.all_levels()
    bounds = [_exact(gr.cut_offs[lvl.grade]) * maxima.total for lvl in ladder[1:]] + [Fraction(maxima.total)]
    for lvl, low, high in zip(ladder[1:], bounds, bounds[1:], strict=False):
        if int(low) + 1 > high:  # the least whole score above the cut-off
            problems.append((f"grading.cut_offs.{lvl.grade.value}", f"level {lvl.label!r} is unreachable: it takes a score above "
                             f"{float(low):g} and at most {float(high):g} (maximum {maxima.total}), and no whole score lies there; "
                             "move the cut-offs apart or give the questions more points"))
    return problems


class _Profile:
    """A product profile reduced to the lists conditions read."""

    def __init__(self, facets: dict[str, set[str]]) -> None:
        self._facets = facets

    def facet(self, name: str) -> list[str]:
        return sorted(self._facets.get(name, ()))


def max_scores(pack: PolicyPack) -> Maxima:
    """Maxima of an additive pack, respecting visibility: a question counts only when its condition can hold
    together with the answers that make it hold (two exclusive branches count as the better one, not both).

    Exact by enumeration over the answers of the questions conditions look at and the profile values they
    test; every other question contributes its best answer. Memoized on the (frozen) pack."""
    cached = pack.__dict__.get("_maxima")
    if cached is None:
        weights = {sec.dimension: sec.weight for sec in pack.grading.score}
        objectives = {"": weights, **{r.section: {r.section: 1} for r in pack.grading.mitigation}}
        best = _maxima(pack, objectives)
        cached = Maxima(best.pop(""), best)
        object.__setattr__(pack, "_maxima", cached)  # frozen model: memo only
    return cached


def _conditions(pack: PolicyPack) -> list[Condition]:
    out: list[Condition] = []

    def walk(c: Condition) -> None:
        out.append(c)
        for sub in (c.all or []) + (c.any or []) + ([c.not_] if c.not_ is not None else []):
            walk(sub)

    for q in pack.questions:
        if q.when is not None:
            walk(q.when)
    return out


def _answer_choices(q: Question, tested: set[str]) -> list[tuple[str, ...] | None]:
    """The answers of a question a condition looks at that can make a difference: each option (single), each subset of
    the tested options (multiple; other options are then added for their points), or no answer when that is allowed."""
    if q.kind == "single":
        out: list[tuple[str, ...] | None] = [(o.id,) for o in q.options]
    else:
        ordered = [o.id for o in q.options if o.id in tested]
        out = [tuple(c) for n in range(len(ordered) + 1) for c in itertools.combinations(ordered, n)]
    if q.optional:
        out.append(None)
    return out


def _maxima(pack: PolicyPack, objectives: dict[str, dict[str, int]]) -> dict[str, int]:
    from review.errors import InvalidInput

    conds = _conditions(pack)
    tested: dict[str, set[str]] = {}
    atoms: list[tuple[str, str]] = []
    for c in conds:
        if c.answer is not None:
            tested.setdefault(c.answer, set()).update(c.any_of or ())
        elif c.profile is not None:
            atoms.extend((c.profile, v) for v in c.any_of or () if (c.profile, v) not in atoms)
    gating = [q for q in pack.questions if q.id in tested]
    choices = [_answer_choices(q, tested[q.id]) for q in gating]
    count = 2 ** len(atoms)
    for ch in choices:
        count *= len(ch)
    if count > MAX_COMBINATIONS:
        raise InvalidInput(f"grading: the maximum score needs {count:,} combinations of the answers conditions look at "
                           f"(limit {MAX_COMBINATIONS:,}); condition fewer questions on multi-choice answers")
    keys = list(objectives)
    plan = [_QuestionPlan(q, tested.get(q.id), [objectives[k] for k in keys]) for q in pack.questions if q.kind != "text"]
    first = {q.id: ch[0] for q, ch in zip(gating, choices, strict=True)}
    best: list[int | None] = [None] * len(keys)
    for truth in itertools.product((False, True), repeat=len(atoms)):
        facets: dict[str, set[str]] = {}
        for (name, v), on in zip(atoms, truth, strict=True):
            if on:
                facets.setdefault(name, set()).add(v)
        profile = _Profile(facets)
        for combo in itertools.product(*choices):
            picked = {q.id: c for q, c in zip(gating, combo, strict=True)}
            totals = _best_totals(plan, profile, picked, first, len(keys))
            if totals is not None:
                best = [t if b is None or t > b else b for b, t in zip(best, totals, strict=True)]
    return {k: b or 0 for k, b in zip(keys, best, strict=True)}


class _QuestionPlan:
    """One question's points per objective, worked out once for the enumeration."""

    def __init__(self, q: Question, tested: set[str] | None, objectives: list[dict[str, int]]) -> None:
        self.q, self.tested = q, tested
        self.values = [{o.id: sum(w.get(d, 0) * p for d, p in o.scores.items()) for o in q.options} for w in objectives]
        self.tops = [self._top(list(v.values())) for v in self.values]

    def _top(self, vals: list[int]) -> int:
        q = self.q
        top = max(vals) if q.kind == "single" else sum(v for v in vals if v > 0) or (0 if q.allow_none else max(vals))
        return max(top, 0) if q.optional else top

    def picked(self, i: int, choice: tuple[str, ...]) -> int | None:
        """Objective ``i``'s points for a tested question answered ``choice`` (plus the best untested options), or None."""
        value = self.values[i]
        if self.q.kind != "multiple":
            return sum(value[o] for o in choice)
        free = [v for o, v in value.items() if o not in (self.tested or ())]
        extra = sum(v for v in free if v > 0)
        q = self.q
        if not choice and not q.allow_none and not q.optional and extra == 0:
            if not free:
                return None  # needs one of the tested options
            extra = max(free)
        return sum(value[o] for o in choice) + extra


def _best_totals(plan: list[_QuestionPlan], profile: _Profile, picked: dict[str, tuple[str, ...] | None],
                 first: dict[str, tuple[str, ...] | None], n: int) -> list[int] | None:
    """The best total of each objective given the answers of the tested questions (None: those answers are impossible)."""
    answers: dict[str, list[str]] = {}
    totals = [0] * n
    for qp in plan:
        q = qp.q
        visible = q.when is None or holds(q.when, profile, answers)
        if q.id in picked:
            choice = picked[q.id]
            if not visible:
                if choice != first[q.id]:
                    return None  # a hidden question has no answer: count this case once
                continue
            if choice is None:
                continue
            for i in range(n):
                pts = qp.picked(i, choice)
                if pts is None:
                    return None
                totals[i] += pts
            answers[q.id] = list(choice)
        elif visible:
            for i in range(n):
                totals[i] += qp.tops[i]
    return totals


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
    """(approvals needed, chair required) for a decision at ``gate`` on a ``g``-graded product: the pack's quorum rules,
    and at least what the level asks of every approval (an AIA level IV: the chair and a second signature)."""
    level = pack.level(g)
    need, chair = level.approvals, level.require_chair
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
        ok = ((c.expect is None or holds(c.expect, profile, answers)) and (not c.needs_customers or bool(profile.customers))
              and (not c.needs_supplier or profile.supplier is not None))
        if not ok:
            out.append(CrossCheckFinding(c.id, c.level, c.message))
    return out
