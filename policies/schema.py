"""The policy-pack schema: a pack is data, validated by these pydantic models on load.

A pack defines the risk dimensions (each tied to an ethics principle), the initiation
questionnaire, grading thresholds and hard triggers, the control catalogue, committee SLAs
and quorum rules, the post-release follow-up cadence, and (optionally) the AIGC
content-safety section, validated separately by ``policies.content_schema``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from review.domain.grades import Grade
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
    thresholds: Thresholds


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
    model_config = Strict
    id: str = Ident
    text: str
    kind: Literal["single", "multiple"] = "single"
    options: list[Option] = Field(min_length=2)
    when: Condition | None = None
    help: str = ""


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
    level: Literal["warn", "refuse"] = "warn"
    message: str = Field(min_length=3)

    @model_validator(mode="after")
    def _tests_something(self) -> "CrossCheck":
        if self.expect is None and not self.needs_customers:
            raise ValueError("a cross-check needs 'expect' (a condition) or 'needs_customers: true'")
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

    def control(self, cid: str) -> Control | None:
        return next((c for c in self.controls if c.id == cid), None)

    def dimension(self, did: str) -> Dimension | None:
        return next((d for d in self.dimensions if d.id == did), None)


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
    for g in (Grade.LOW, Grade.MEDIUM, Grade.HIGH):
        if g not in pack.followups.cadence:
            problems.append((f"followups.cadence.{g.value}", "missing: every releasable grade needs a follow-up cadence"))
        if g not in pack.review_sla_days:
            problems.append((f"review_sla_days.{g.value}", "missing: every grade needs a committee SLA in days"))
    return problems


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
