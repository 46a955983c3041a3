"""Who may do what: roles, and segregation of duties.

Two rules beyond roles, from "controllable technology: the humans in control are
accountable": nobody decides on (or verifies controls of) a product their own team
submitted, and a reviewer who declared a conflict of interest on a product is recused.

``blockers`` returns the reasons an action is refused (empty list = allowed), so the TUI
can show a disabled action *with its reason* and the services raise the same words.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from review.errors import Forbidden, InvalidInput


class Role(StrEnum):
    SUBMITTER = "submitter"
    REVIEWER = "reviewer"
    CHAIR = "chair"
    ADMIN = "admin"


class Duty(StrEnum):
    SUBMIT = "submit"
    ADD_EVIDENCE = "add evidence"
    ADVANCE = "advance"
    ASSIGN = "assign"
    DECIDE = "decide"
    VERIFY = "verify"
    WAIVE = "waive"
    OVERRIDE_GRADE = "override grade"
    SUSPEND = "suspend"
    MANAGE_USERS = "manage users"
    DECLARE_CONFLICT = "declare conflict"
    TRIAGE = "triage"
    LABEL = "label"
    EXPORT_LOG = "export the audit log"
    SET_CLOCK = "run the follow-up scan at another time than now"
    READ_PROCESS = "read the process report"
    MANAGE_POLICY = "change a policy pack's keyword library or test banks"


#: The role table: which roles may perform each duty.
ROLES_FOR: dict[Duty, frozenset[Role]] = {
    Duty.SUBMIT: frozenset({Role.SUBMITTER, Role.ADMIN}),
    Duty.ADD_EVIDENCE: frozenset({Role.SUBMITTER, Role.ADMIN}),
    Duty.ADVANCE: frozenset({Role.SUBMITTER, Role.CHAIR, Role.ADMIN}),
    Duty.ASSIGN: frozenset({Role.REVIEWER, Role.CHAIR, Role.ADMIN}),
    Duty.DECIDE: frozenset({Role.REVIEWER, Role.CHAIR}),
    Duty.VERIFY: frozenset({Role.REVIEWER, Role.CHAIR}),
    Duty.WAIVE: frozenset({Role.CHAIR}),
    Duty.OVERRIDE_GRADE: frozenset({Role.CHAIR}),
    Duty.SUSPEND: frozenset({Role.CHAIR, Role.ADMIN}),
    Duty.MANAGE_USERS: frozenset({Role.ADMIN}),
    Duty.DECLARE_CONFLICT: frozenset({Role.REVIEWER, Role.CHAIR}),
    Duty.TRIAGE: frozenset({Role.REVIEWER, Role.CHAIR}),
    Duty.LABEL: frozenset({Role.REVIEWER, Role.CHAIR}),
    Duty.EXPORT_LOG: frozenset({Role.CHAIR, Role.ADMIN}),  # it holds personal data
    Duty.SET_CLOCK: frozenset({Role.ADMIN}),
    Duty.READ_PROCESS: frozenset({Role.REVIEWER, Role.CHAIR, Role.ADMIN}),  # it names people and their load
    Duty.MANAGE_POLICY: frozenset({Role.CHAIR, Role.ADMIN}),
}

#: The ethics committee: who reviews, and who ``committee`` notifications reach.
COMMITTEE: frozenset[Role] = frozenset({Role.REVIEWER, Role.CHAIR})

#: Duties that judge a product: segregation of duties and recusal apply to them.
JUDGING = frozenset({Duty.DECIDE, Duty.VERIFY, Duty.WAIVE, Duty.OVERRIDE_GRADE, Duty.LABEL})
#: Duties a product team performs on its own product only.
OWN_TEAM_ONLY = frozenset({Duty.ADD_EVIDENCE})


def parse_roles(text: str | list[str]) -> frozenset[Role]:
    items = text if isinstance(text, list) else [x for x in text.replace(" ", "").split(",") if x]
    out: set[Role] = set()
    for item in items:
        try:
            out.add(Role(item.strip().lower()))
        except ValueError:
            raise InvalidInput(f"unknown role {item!r}; roles are: {', '.join(r.value for r in Role)}") from None
    if not out:
        raise InvalidInput(f"give at least one role: {', '.join(r.value for r in Role)}")
    return frozenset(out)


@dataclass(frozen=True)
class Actor:
    username: str
    team: str
    roles: frozenset[Role]
    #: Product names on which this person declared a conflict of interest.
    conflicts: frozenset[str] = field(default_factory=frozenset)

    def has(self, role: Role) -> bool:
        return role in self.roles


@dataclass(frozen=True)
class ProductContext:
    name: str
    owner_team: str
    submitted_by: str | None = None


def blockers(actor: Actor, duty: Duty, product: ProductContext | None = None) -> list[str]:
    """Reasons ``actor`` may not perform ``duty`` (on ``product``); empty when allowed."""
    reasons: list[str] = []
    allowed = ROLES_FOR[duty]
    if not actor.roles & allowed:
        need = " or ".join(sorted(r.value for r in allowed))
        reasons.append(f"{actor.username} lacks the role to {duty.value} (needs {need}; has {', '.join(sorted(r.value for r in actor.roles)) or 'none'})")
    if product is not None and duty in JUDGING:
        if actor.team == product.owner_team:
            reasons.append(f"segregation of duties: {actor.username} is in {product.owner_team}, the team that owns {product.name}")
        if product.submitted_by and actor.username == product.submitted_by:
            reasons.append(f"segregation of duties: {actor.username} submitted {product.name}")
        if product.name in actor.conflicts:
            reasons.append(f"recused: {actor.username} declared a conflict of interest on {product.name}")
    if product is not None and duty in OWN_TEAM_ONLY and not actor.has(Role.ADMIN) and actor.team != product.owner_team:
        reasons.append(f"{actor.username} is not in {product.owner_team}, the team that owns {product.name}")
    return reasons


def require(actor: Actor, duty: Duty, product: ProductContext | None = None) -> None:
    reasons = blockers(actor, duty, product)
    if reasons:
        raise Forbidden("; ".join(reasons))
