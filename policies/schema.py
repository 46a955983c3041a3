"""The policy-pack schema: a pack is data, validated by these pydantic models on load.

A pack defines the risk dimensions (each tied to an ethics principle), the initiation
questionnaire, grading thresholds and hard triggers, the control catalogue, committee SLAs
and quorum rules, the post-release follow-up cadence, and (optionally) the AIGC
content-safety section, validated separately by ``policies.content_schema``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from review.domain.grades import GRADES_ASCENDING, Grade
from review.domain.product import PROFILE_FACETS

Strict = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
Ident = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", min_length=1, max_length=64)


class Principle(BaseModel):
    model_config = Strict
    id: str = Ident
    title: str
    description: str = ""


class Thresholds(BaseModel):
    """Dimension score from which each level applies (score below ``medium`` is LOW)."""

    model_config = Strict
    medium: int = Field(ge=1)
    high: int = Field(ge=1)
    unacceptable: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _ascending(self) -> "Thresholds":
        if self.high <= self.medium:
            raise ValueError(f"high ({self.high}) must be above medium ({self.medium})")
        if self.unacceptable is not None and self.unacceptable <= self.high:
            raise ValueError(f"unacceptable ({self.unacceptable}) must be above high ({self.high})")
        return self


class Dimension(BaseModel):
    model_config = Strict
    id: str = Ident
    title: str
    principle: str
    description: str = ""
    #: Levels of this dimension under ``grading: highest`` (an additive pack grades sections together instead).
    thresholds: Thresholds | None = None


class Condition(BaseModel):
    """When a question is asked, a trigger fires or a control applies.

    Exactly one form: ``answer`` + ``any_of`` (the answer to a question includes one of
    the options), ``profile`` + ``any_of`` (a product profile list includes one of the
    values), or a combination ``all`` / ``any`` / ``not``.
    """

    model_config = Strict
    answer: str | None = None
    profile: Literal["intended_users", "data_categories", "capabilities", "deployment_regions"] | None = None
    any_of: list[str] | None = None
    all: list["Condition"] | None = None
    any: list["Condition"] | None = None
    not_: "Condition | None" = Field(default=None, alias="not")

    @model_validator(mode="after")
    def _one_form(self) -> "Condition":
        forms = [
            self.answer is not None,
            self.profile is not None,
            self.all is not None,
            self.any is not None,
            self.not_ is not None,
        ]
        if sum(forms) != 1:
            raise ValueError("a condition has exactly one of: answer, profile, all, any, not")
        if (self.answer is not None or self.profile is not None) and not self.any_of:
            raise ValueError("'answer' and 'profile' conditions need a non-empty 'any_of' list")
        if self.any_of is not None and self.answer is None and self.profile is None:
            raise ValueError("'any_of' goes with 'answer' or 'profile'")
        return self


class Option(BaseModel):
    model_config = Strict
    id: str = Ident
    label: str
    #: Points this answer adds to each named dimension.
    scores: dict[str, int] = Field(default_factory=dict)


class Question(BaseModel):
    """A question of the initiation questionnaire. ``text`` questions take a free-text answer that is stored and
    shown but never scored; ``optional`` ones may be left unanswered; a ``multiple`` question with ``allow_none``
    accepts an empty list (none of the options applies)."""

    model_config = Strict
    id: str = Ident
    text: str
    kind: Literal["single", "multiple", "text"] = "single"
    options: list[Option] = Field(default_factory=list)
    when: Condition | None = None
    help: str = ""
    optional: bool = False
    allow_none: bool = False
    #: Longest free-text answer accepted (``text`` questions).
    max_length: int = Field(default=2000, ge=1, le=20000)

    @model_validator(mode="after")
    def _options_fit_kind(self) -> "Question":
        if self.kind == "text" and self.options:
            raise ValueError("a 'text' question takes free text: remove its options (or make it 'single' / 'multiple')")
        if self.kind != "text" and len(self.options) < 2:
            raise ValueError(f"a '{self.kind}' question needs at least 2 options (or kind: text for a free-text answer)")
        if self.allow_none and self.kind != "multiple":
            raise ValueError("allow_none is for 'multiple' questions (an empty selection); use optional: true for others")
        return self


class Trigger(BaseModel):
    """A hard trigger: fixes the grade (``fix``) or sets a floor under it (``floor``)."""

    model_config = Strict
    id: str = Ident
    title: str
    when: Condition
    fix: Grade | None = None
    floor: Grade | None = None
    rationale: str = ""

    @model_validator(mode="after")
    def _one_effect(self) -> "Trigger":
        if (self.fix is None) == (self.floor is None):
            raise ValueError("a trigger has exactly one of 'fix' or 'floor'")
        return self


class CrossCheck(BaseModel):
    """A consistency check over a submitted product: when ``when`` holds (and the grade is at least ``grade_at_least``),
    ``expect`` must hold too (and the product must name customers, with ``needs_customers``); otherwise the pack
    refuses the submission or warns the committee, with ``message`` (what is inconsistent and the fix)."""

    model_config = Strict
    id: str = Ident
    when: Condition | None = None
    grade_at_least: Grade | None = None
    expect: Condition | None = None
    needs_customers: bool = False
    #: The product must name its supplier (``product.supplier``): a third-party review.
    needs_supplier: bool = False
    level: Literal["warn", "refuse"] = "warn"
    message: str = Field(min_length=3)

    @model_validator(mode="after")
    def _tests_something(self) -> "CrossCheck":
        if self.expect is None and not self.needs_customers and not self.needs_supplier:
            raise ValueError("a cross-check needs 'expect' (a condition), 'needs_customers: true' or 'needs_supplier: true'")
        return self


class Control(BaseModel):
    model_config = Strict
    id: str = Field(pattern=r"^[A-Z][A-Z0-9_.-]*$", max_length=32)
    title: str
    dimension: str
    #: The dimension level from which this control is required.
    required_from: Grade
    evidence: str
    verified_at: Literal["DEVELOPMENT", "RELEASE"] = "DEVELOPMENT"
    when: Condition | None = None
    #: Also required whenever one of these hard triggers fires.
    triggers: list[str] = Field(default_factory=list)
    #: Points taken off the dimension score in the residual grade once VERIFIED.
    mitigation: int = Field(default=0, ge=0)
    #: What this control satisfies in other frameworks: framework (a pack id) -> that pack's control ids. Checked
    #: against the target pack at load (``policies.loader.crosswalk_problems``) when it is installed.
    maps_to: dict[str, list[str]] = Field(default_factory=dict)

    @field_validator("maps_to")
    @classmethod
    def _mapped_lists(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        for fw, ids in v.items():
            if not ids:
                raise ValueError(f"maps_to.{fw}: an empty list maps nothing; name the obligations (control ids) or remove {fw!r}")
            dup = next((x for i, x in enumerate(ids) if x in ids[:i]), None)
            if dup is not None:
                raise ValueError(f"maps_to.{fw}: {dup!r} is listed twice; keep one")
        return v


class Level(BaseModel):
    """What a grade means under this pack: the name people see, and what it asks of an approval.

    Levels are declared lowest first and stand for the stored grades in order (the first is LOW, the second
    MEDIUM, ...), so a pack with four levels names LOW, MEDIUM, HIGH and UNACCEPTABLE its own way."""

    model_config = Strict
    grade: Grade
    label: str = Field(min_length=1, max_length=60)
    description: str = ""
    #: A product at this level cannot be approved (reject it, or override the grade).
    blocks_approval: bool = False
    #: Approvals from distinct reviewers every approval at this level needs, and whether the chair must give one.
    approvals: int = Field(default=1, ge=1, le=9)
    require_chair: bool = False

    @property
    def extra_sign_off(self) -> bool:
        return self.approvals > 1 or self.require_chair


#: The levels of a pack that declares none: the grades by name; UNACCEPTABLE blocks approval.
DEFAULT_LEVELS: tuple[Level, ...] = (
    Level(grade=Grade.LOW, label="LOW"),
    Level(grade=Grade.MEDIUM, label="MEDIUM"),
    Level(grade=Grade.HIGH, label="HIGH"),
    Level(grade=Grade.UNACCEPTABLE, label="UNACCEPTABLE", blocks_approval=True),
)


class Section(BaseModel):
    """A dimension summed into the additive score, with its weight."""

    model_config = Strict
    dimension: str
    weight: int = Field(default=1, ge=1, le=1000)


class MitigationRule(BaseModel):
    """``when <section> >= at_least x its maximum, score x factor`` (the AIA: 80% of the mitigation maximum, x 0.85)."""

    model_config = Strict
    section: str
    at_least: float = Field(gt=0, le=1)
    factor: float = Field(gt=0, lt=1)
    #: ``nearest``: the scaled score is rounded to the nearest whole point, halves up (as the AIA's own tool does).
    rounding: Literal["exact", "nearest"] = "exact"


class Grading(BaseModel):
    """How answers become a grade.

    ``highest`` (the default): each dimension's level comes from its thresholds and the highest wins.
    ``additive``: the weighted points of the ``score`` sections are summed, mitigation rules scale the sum,
    and the level is the highest whose cut-off (a fraction of the maximum attainable score) the sum is above.
    """

    model_config = Strict
    model: Literal["highest", "additive"] = "highest"
    score: list[Section] = Field(default_factory=list)
    #: Level -> fraction of the maximum attainable score the score must be above (additive).
    cut_offs: dict[Grade, float] = Field(default_factory=dict)
    mitigation: list[MitigationRule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _fits_model(self) -> "Grading":
        if self.model == "highest":
            for name in ("score", "cut_offs", "mitigation"):
                if getattr(self, name):
                    raise ValueError(f"'{name}' is for 'model: additive'; a 'highest' pack grades by dimension thresholds "
                                     f"(remove '{name}' or set model: additive)")
            return self
        if not self.score:
            raise ValueError("'model: additive' needs 'score': the sections (dimensions) whose points are summed")
        for g, f in self.cut_offs.items():
            if not 0 < f < 1:
                raise ValueError(f"cut_offs.{g.value}: {f} is out of range; a cut-off is a fraction of the maximum score "
                                 "between 0 and 1 exclusive (0.25 for 25%)")
        ordered = sorted(self.cut_offs.items(), key=lambda kv: kv[0].rank)
        for (g1, f1), (g2, f2) in zip(ordered, ordered[1:], strict=False):
            if f2 <= f1:
                raise ValueError(f"cut_offs.{g2.value}: {f2} must be above the cut-off of {g1.value} ({f1}); "
                                 "higher levels start at higher fractions")
        return self


class Cadence(BaseModel):
    model_config = Strict
    every_days: int = Field(ge=1, le=3660)
    visits: int = Field(ge=1, le=1000)


class FollowupQuestion(BaseModel):
    """A yes/no question asked at each post-release visit.

    ``adverse`` is the answer that reports a problem; such an answer must come with a
    finding, and ``reopen_at`` is the gate a review reopens at when it does.
    """

    model_config = Strict
    text: str = Field(min_length=5)
    adverse: Literal["yes", "no"] = "yes"
    reopen_at: Literal["INITIATION", "DEVELOPMENT"] = "INITIATION"


class FollowUps(BaseModel):
    model_config = Strict
    cadence: dict[Grade, Cadence]
    #: Who a visit goes to: a sample of the product's ``customers``, or its ``supplier``'s contact (a third-party review).
    visit: Literal["customers", "supplier"] = "customers"
    overdue_escalation_days: int = Field(default=14, ge=1)
    questionnaire: list[FollowupQuestion] = Field(min_length=1)

    @field_validator("questionnaire", mode="before")
    @classmethod
    def _plain_strings(cls, v: Any) -> Any:
        # A plain string is a question whose adverse answer is "yes".
        return [{"text": x} if isinstance(x, str) else x for x in v] if isinstance(v, list) else v


class Quorum(BaseModel):
    model_config = Strict
    gate: Literal["INITIATION", "DEVELOPMENT", "RELEASE"]
    min_grade: Grade
    approvals: int = Field(ge=1, le=9)
    require_chair: bool = False


#: Frameworks a control may map to (``maps_to``) even when their pack is not installed; an installed pack's id is a
#: framework too. Ids toward a framework whose pack is installed are checked against that pack.
KNOWN_FRAMEWORKS = ("canada-aia", "eu-ai-act", "iso-42001", "nist-ai-rmf")

#: Who hears of what: event -> audiences. ``team`` is the product's owner team, ``submitter`` the person who
#: submitted it, ``assignee`` the reviewer holding it, ``committee`` the reviewers and the chair, ``chair`` the chair.
Audience = Literal["team", "submitter", "assignee", "committee", "chair"]
DEFAULT_ROUTES: dict[str, tuple[str, ...]] = {
    "assigned": ("assignee",),
    "decision": ("team",),
    "control-rejected": ("team",),
    "reopened": ("team", "assignee"),
    "feedback-credible": ("team",),
    "audit-failed": ("team", "committee"),
    "eval-failed": ("team", "committee"),
}


class PolicyPack(BaseModel):
    model_config = Strict
    id: str = Ident
    version: str = Field(pattern=r"^\d+\.\d+(\.\d+)?$")
    title: str
    description: str = ""
    framework: str = ""
    principles: list[Principle] = Field(min_length=1)
    dimensions: list[Dimension] = Field(min_length=1)
    questions: list[Question] = Field(min_length=1)
    triggers: list[Trigger] = Field(default_factory=list)
    controls: list[Control] = Field(min_length=1)
    review_sla_days: dict[Grade, int]
    quorum: list[Quorum] = Field(default_factory=list)
    followups: FollowUps
    #: Raw content-safety section (a mapping, or a path to a YAML file beside the pack);
    #: validated by ``policies.content_schema`` when the pack is loaded.
    content_safety: dict[str, Any] | str | None = None
    #: Notification routing (``DEFAULT_ROUTES`` for the events a pack leaves out; ``[]`` silences one).
    notifications: dict[str, list[Audience]] = Field(default_factory=dict)
    #: Consistency checks over a submitted product (``grading.cross_check``): a warning or a refusal.
    cross_checks: list[CrossCheck] = Field(default_factory=list)
    grading: Grading = Field(default_factory=Grading)
    #: The pack's levels, lowest first (``DEFAULT_LEVELS`` when left out).
    levels: list[Level] = Field(default_factory=list)

    @field_validator("levels")
    @classmethod
    def _levels_in_order(cls, v: list[Level]) -> list[Level]:
        for i, lvl in enumerate(v):
            if i >= len(GRADES_ASCENDING) or lvl.grade is not GRADES_ASCENDING[i]:
                want = GRADES_ASCENDING[i].value if i < len(GRADES_ASCENDING) else "(none: at most four levels)"
                raise ValueError(f"levels[{i}].grade: {lvl.grade.value}: levels are declared lowest first and stand for "
                                 f"LOW, MEDIUM, HIGH, UNACCEPTABLE in order; here: {want}")
        if len(v) == 1:
            raise ValueError("declare at least two levels (or none, for LOW, MEDIUM, HIGH, UNACCEPTABLE)")
        return v

    @field_validator("notifications")
    @classmethod
    def _known_events(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        for event in v:
            if event not in DEFAULT_ROUTES:
                raise ValueError(f"notifications.{event}: unknown event; events: {', '.join(DEFAULT_ROUTES)}")
        return v

    def routes(self, event: str) -> tuple[str, ...]:
        """The audiences of ``event`` under this pack."""
        return tuple(self.notifications[event]) if event in self.notifications else DEFAULT_ROUTES[event]

    # ---- lookups -------------------------------------------------------------------
    def question(self, qid: str) -> Question | None:
        return self._questions().get(qid)

    def _questions(self) -> dict[str, Question]:
        cache = self.__dict__.get("_qcache")
        if cache is None:
            cache = {q.id: q for q in self.questions}
            object.__setattr__(self, "_qcache", cache)  # frozen model: memo only
        return cache

    def frameworks_mapped(self) -> tuple[str, ...]:
        """The frameworks its controls' ``maps_to`` name, first named first."""
        cache = self.__dict__.get("_fwcache")
        if cache is None:
            cache = tuple(dict.fromkeys(fw for c in self.controls for fw in c.maps_to))
            object.__setattr__(self, "_fwcache", cache)  # frozen model: memo only
        return cache

    def control(self, cid: str) -> Control | None:
        return next((c for c in self.controls if c.id == cid), None)

    def dimension(self, did: str) -> Dimension | None:
        return next((d for d in self.dimensions if d.id == did), None)

    def all_levels(self) -> tuple[Level, ...]:
        return tuple(self.levels) or DEFAULT_LEVELS

    def level(self, g: Grade) -> Level:
        """What grade ``g`` means under this pack (a grade the pack does not declare: the default meaning)."""
        levels = self.all_levels()
        return levels[g.rank] if g.rank < len(levels) else DEFAULT_LEVELS[g.rank]

    def label(self, g: Grade | str) -> str:
        return self.level(Grade(g)).label


def cross_check(pack: PolicyPack) -> list[tuple[str, str]]:
    """References a field validator cannot see: returns (path, problem) pairs."""
    problems: list[tuple[str, str]] = []
    principles = {p.id for p in pack.principles}
    dims = {d.id for d in pack.dimensions}
    _dupes(problems, "principles", [p.id for p in pack.principles])
    _dupes(problems, "dimensions", [d.id for d in pack.dimensions])
    _dupes(problems, "questions", [q.id for q in pack.questions])
    _dupes(problems, "triggers", [t.id for t in pack.triggers])
    _dupes(problems, "controls", [c.id for c in pack.controls])
    for i, d in enumerate(pack.dimensions):
        if d.principle not in principles:
            problems.append((f"dimensions[{i}].principle", f"unknown principle {d.principle!r}; known: {sorted(principles)}"))
    options = {q.id: {o.id for o in q.options} for q in pack.questions}
    seen: set[str] = set()
    for i, q in enumerate(pack.questions):
        _dupes(problems, f"questions[{i}].options", [o.id for o in q.options])
        for j, o in enumerate(q.options):
            for dim in o.scores:
                if dim not in dims:
                    problems.append((f"questions[{i}].options[{j}].scores.{dim}", f"unknown dimension {dim!r}; known: {sorted(dims)}"))
        if q.when is not None:
            # A condition may only look at questions asked before it (answers flow forward).
            _check_condition(problems, f"questions[{i}].when", q.when, {k: v for k, v in options.items() if k in seen})
        seen.add(q.id)
    trig_ids = {t.id for t in pack.triggers}
    for i, t in enumerate(pack.triggers):
        _check_condition(problems, f"triggers[{i}].when", t.when, options)
    for i, c in enumerate(pack.controls):
        if c.dimension not in dims:
            problems.append((f"controls[{i}].dimension", f"unknown dimension {c.dimension!r}; known: {sorted(dims)}"))
        for k, tid in enumerate(c.triggers):
            if tid not in trig_ids:
                problems.append((f"controls[{i}].triggers[{k}]", f"unknown trigger {tid!r}"))
        if c.when is not None:
            _check_condition(problems, f"controls[{i}].when", c.when, options)
    _check_levels(problems, pack)
    if pack.followups.visit == "supplier" and not any(c.needs_supplier and c.level == "refuse" and c.when is None and c.grade_at_least is None
                                                      for c in pack.cross_checks):
        problems.append(("followups.visit", "'supplier': the follow-ups visit the supplier's contact, so every product must name "
                                            "one; add a cross-check {id: supplier-named, needs_supplier: true, level: refuse, message: ...}"))
    for g in (Grade.LOW, Grade.MEDIUM, Grade.HIGH):
        if g not in pack.followups.cadence:
            problems.append((f"followups.cadence.{g.value}", "missing: every releasable grade needs a follow-up cadence"))
        if g not in pack.review_sla_days:
            problems.append((f"review_sla_days.{g.value}", "missing: every grade needs a committee SLA in days"))
    return problems


def _check_levels(problems: list[tuple[str, str]], pack: PolicyPack) -> None:
    """Every grade the pack can give is one of its levels, and the grading model has what it needs."""
    declared = {lvl.grade for lvl in pack.all_levels()}
    names = ", ".join(g.value for g in GRADES_ASCENDING if g in declared)

    def undeclared(path: str, g: Grade | None) -> None:
        if g is not None and g not in declared:
            problems.append((path, f"{g.value} is not one of this pack's levels ({names}); use one of them or declare the level"))

    for i, t in enumerate(pack.triggers):
        undeclared(f"triggers[{i}].{'fix' if t.fix else 'floor'}", t.fix or t.floor)
    for i, c in enumerate(pack.controls):
        undeclared(f"controls[{i}].required_from", c.required_from)
    dims = {d.id for d in pack.dimensions}
    gr = pack.grading
    if gr.model == "highest":
        for i, d in enumerate(pack.dimensions):
            if d.thresholds is None:
                problems.append((f"dimensions[{i}].thresholds", "missing: under 'grading: highest' every dimension needs thresholds "
                                 "(medium, high[, unacceptable]); or grade additively with grading.model: additive"))
            elif d.thresholds.unacceptable is not None:
                undeclared(f"dimensions[{i}].thresholds.unacceptable", Grade.UNACCEPTABLE)
        return
    for i, d in enumerate(pack.dimensions):
        if d.thresholds is not None:
            problems.append((f"dimensions[{i}].thresholds", "an additive pack grades with grading.cut_offs, not per-dimension "
                             "thresholds; remove them"))
    scored = [x.dimension for x in gr.score]
    _dupes(problems, "grading.score", scored)
    for i, sec in enumerate(gr.score):
        if sec.dimension not in dims:
            problems.append((f"grading.score[{i}].dimension", f"unknown section {sec.dimension!r}; sections are dimensions: {sorted(dims)}"))
    for i, m in enumerate(gr.mitigation):
        if m.section not in dims:
            problems.append((f"grading.mitigation[{i}].section", f"unknown section {m.section!r}; sections are dimensions: {sorted(dims)}"))
        elif m.section in scored:
            problems.append((f"grading.mitigation[{i}].section", f"{m.section!r} is summed into the score (grading.score); "
                             "a mitigation section is a separate dimension whose points are mitigation measures"))
    levels = pack.all_levels()
    for lvl in levels[1:]:
        if lvl.grade not in gr.cut_offs:
            problems.append((f"grading.cut_offs.{lvl.grade.value}", f"missing: level {lvl.label!r} needs the fraction of the maximum "
                             "score it starts above (e.g. 0.5 for 50%)"))
    for g in gr.cut_offs:
        if g not in declared or g is levels[0].grade:
            problems.append((f"grading.cut_offs.{g.value}", f"{g.value} is not a level above the lowest ({names}); remove it"))


def _dupes(problems: list[tuple[str, str]], path: str, ids: list[str]) -> None:
    seen: set[str] = set()
    for i, x in enumerate(ids):
        if x in seen:
            problems.append((f"{path}[{i}].id", f"duplicate id {x!r}"))
        seen.add(x)


def _check_condition(problems: list[tuple[str, str]], path: str, cond: Condition, options: dict[str, set[str]]) -> None:
    if cond.answer is not None:
        if cond.answer not in options:
            problems.append((f"{path}.answer", f"unknown or later question {cond.answer!r}"))
        elif not options[cond.answer]:
            problems.append((f"{path}.answer", f"question {cond.answer!r} takes free text; a condition looks at a choice question"))
        else:
            for k, v in enumerate(cond.any_of or []):
                if v not in options[cond.answer]:
                    problems.append((f"{path}.any_of[{k}]", f"{v!r} is not an option of question {cond.answer!r}; options: {sorted(options[cond.answer])}"))
    if cond.profile is not None:
        assert cond.profile in PROFILE_FACETS
        from review.domain.product import Capability, DataCategory, UserGroup

        allowed = {
            "intended_users": {u.value for u in UserGroup},
            "data_categories": {d.value for d in DataCategory},
            "capabilities": {c.value for c in Capability},
        }.get(cond.profile)
        if allowed is not None:
            for k, v in enumerate(cond.any_of or []):
                if v not in allowed:
                    problems.append((f"{path}.any_of[{k}]", f"{v!r} is not a {cond.profile} value; allowed: {sorted(allowed)}"))
    for key, subs in (("all", cond.all), ("any", cond.any)):
        for k, sub in enumerate(subs or []):
            _check_condition(problems, f"{path}.{key}[{k}]", sub, options)
    if cond.not_ is not None:
        _check_condition(problems, f"{path}.not", cond.not_, options)
