"""Helpers shared by the use cases: the acting user, loading a review, the optimistic lock."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import TYPE_CHECKING, Any, Iterable

import sqlalchemy as sa
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select

from review.domain import rules
from review.domain.duties import Actor, ProductContext, Role, parse_roles
from review.domain.grades import Grade
from review.domain.lifecycle import CaseState, Gate, Status
from review.errors import Conflict, Forbidden, InvalidInput, NotFound
from review.services.ids import parse_id as parse_id  # re-exported: the use cases read ids through common
from review.services.ids import parse_review_id as parse_review_id
from review.services.ids import review_not_found
from review.services.tables import table_of
from review.store.db import utcnow
from review.store.models import Assessment, ConflictDeclaration, ControlRequirement, Decision, Product, Review, User

if TYPE_CHECKING:  # a pack and its pydantic schema are loaded by the use cases that grade, not by every listing
    from policies.loader import LoadedPack
    from review.domain import grading

ACTOR_ENV = "ETHICS_REVIEW_USER"


def acting_username(explicit: str | None) -> str:
    name = explicit or os.environ.get(ACTOR_ENV)
    if not name:
        raise InvalidInput(f"who is acting? pass --as USER or set {ACTOR_ENV}")
    return name


_ACTOR = (sa.select(col(User.username), col(User.team), col(User.roles), col(User.active), col(Product.name))
          .outerjoin(ConflictDeclaration, col(ConflictDeclaration.username) == col(User.username))
          .outerjoin(Product, col(Product.id) == col(ConflictDeclaration.product_id))
          .where(col(User.username) == sa.bindparam("username")))


def load_actor(session: Session, username: str) -> Actor:
    """The person, with the products they declared a conflict on (one query, built once: it runs in every use case)."""
    rows = session.connection().execute(_ACTOR, {"username": username}).all()
    if not rows or not rows[0].active:
        raise NotFound(f"unknown user {username!r}; an admin adds people with: ethics-review user add {username} --team TEAM --role reviewer")
    r = rows[0]
    return Actor(username=r.username, team=r.team, roles=parse_roles(r.roles), conflicts=frozenset(x.name for x in rows if x.name))


def actor_of(user: User, conflicts: Iterable[str] = ()) -> Actor:
    """The domain's view of a user row (``conflicts``: product names they declared)."""
    return Actor(username=user.username, team=user.team, roles=parse_roles(user.roles), conflicts=frozenset(conflicts))


def active_users(session: Session) -> list[User]:
    """Every active user, by username."""
    return list(session.exec(select(User).where(col(User.active).is_(True)).order_by(col(User.username))).all())


def initiation_assessment(session: Session, review_id: int) -> Assessment | None:
    """The review's latest initiation assessment (a resubmission adds a newer one), or None."""
    return session.exec(select(Assessment).where(Assessment.review_id == review_id, Assessment.kind == "initiation")
                        .order_by(col(Assessment.id).desc())).first()


@dataclass(frozen=True)
class Residual:
    initial: Assessment  # the initiation assessment regraded
    pack: LoadedPack  # the pack of the assessment's pack id
    verified: list[str]  # control ids credited
    result: grading.GradeResult


def residual_for(session: Session, review: Review, product: Product) -> Residual | None:
    """The residual grade: the latest initiation answers regraded with credit for VERIFIED
    controls only (None before any initiation assessment). One rule for the gate report and
    ``compute_residual``."""
    from policies.loader import load_pack
    from review.domain import grading
    from review.domain.product import ProductProfile

    assert review.id is not None  # a stored review
    initial = initiation_assessment(session, review.id)
    if initial is None:
        return None
    pack = load_pack(initial.pack_id)
    verified = list(session.exec(select(ControlRequirement.control_id).where(ControlRequirement.review_id == review.id,
                                                                            ControlRequirement.status == "VERIFIED")).all())
    result = grading.residual_grade(pack.pack, ProductProfile.model_validate(product.profile), initial.answers, verified)
    return Residual(initial, pack, verified, result)


def locked(session: Session, model: type, pk: Any) -> Any:
    """``session.get`` that, in a write transaction on PostgreSQL, locks the row (``SELECT ... FOR UPDATE``)
    until commit: a use case that checks a state and then writes holds that state. (SQLite: a writer
    holds the database from BEGIN IMMEDIATE on, so the check already holds.)"""
    if session.info.get("write") and session.get_bind().dialect.name == "postgresql":
        return session.get(model, pk, with_for_update=True, populate_existing=True)
    return session.get(model, pk)


def expect_version(review: Review, expected_version: int | None) -> None:
    """Refuse (Conflict) when the review changed since the version the person saw."""
    if expected_version is not None and expected_version != review.version:
        raise Conflict(f"review {review.id} changed since you opened it (you saw version {expected_version}, it is now "
                       f"{review.version}: {review.gate}/{review.status}); reload it and try again")


REVIEW_AND_PRODUCT = (select(Review, Product).join(Product, col(Product.id) == col(Review.product_id))
                       .where(col(Review.id) == sa.bindparam("rid")))
REVIEW_AND_PRODUCT_LOCKED = REVIEW_AND_PRODUCT.with_for_update(of=Review).execution_options(populate_existing=True)


def get_review(session: Session, review_id: Any) -> tuple[Review, Product]:
    """The review and its product; in a write transaction the review row is locked (see ``locked``)."""
    rid = parse_review_id(review_id)
    locking = session.info.get("write") and session.get_bind().dialect.name == "postgresql"
    # one query for both, the review locked in a write transaction; built once (it runs in every use case)
    row = session.execute(REVIEW_AND_PRODUCT_LOCKED if locking else REVIEW_AND_PRODUCT, {"rid": rid}).first()
    if row is None:
        raise review_not_found(rid)
    return row[0], row[1]


def product_context(product: Product, review: Review) -> ProductContext:
    return ProductContext(name=product.name, owner_team=product.owner_team, submitted_by=review.submitted_by)


def case_state(review: Review, *, released: bool = False) -> CaseState:
    """The review's place in the lifecycle from its row alone (``released`` only matters for suspending at
    INITIATION: ``lifecycle_state`` finds it out)."""
    return CaseState(Gate(review.gate), Status(review.status), Gate(review.suspended_from) if review.suspended_from else None, released)


def lifecycle_state(session: Session, review: Review) -> CaseState:
    """``case_state`` with ``released`` known: at INITIATION, whether the product has been on the market
    (releasing it scheduled follow-up checks, and only a released product has any). One query, there only."""
    from review.store.models_followup import FollowupCheck

    released = review.gate == Gate.INITIATION.value and session.execute(
        sa.select(col(FollowupCheck.id)).where(col(FollowupCheck.review_id) == review.id).limit(1)).first() is not None
    return case_state(review, released=released)


_APPROVALS = (sa.select(col(Decision.actor), col(Decision.actor_roles))
              .where(col(Decision.review_id) == sa.bindparam("rid"), col(Decision.gate) == sa.bindparam("gate"),
                     col(Decision.round) == sa.bindparam("round"), col(Decision.action) == "approve"))
_CONTROLS = (sa.select(col(ControlRequirement.control_id), col(ControlRequirement.verify_gate), col(ControlRequirement.status),
                       col(ControlRequirement.updated_by), col(ControlRequirement.updated_at))
             .where(col(ControlRequirement.review_id) == sa.bindparam("rid")).order_by(col(ControlRequirement.id)))


def round_approvals(s: Session, review: Review) -> list[tuple[str, bool]]:
    """(approver, approved as chair) of the approvals recorded at the review's gate in its current round."""
    s.flush()
    rows = s.connection().execute(_APPROVALS, {"rid": review.id, "gate": review.gate, "round": review.round}).all()
    return [(actor, Role.CHAIR.value in roles.split(",")) for actor, roles in rows]


def situation(s: Session, review: Review, product: Product, *, controls: bool = False, approvals: bool = False,
              released: bool = False) -> rules.Situation:
    """What ``review.domain.rules`` needs about a review, reading only the parts asked for (the TUI's
    permissions ask for all; a use case for what its action's rules look at)."""
    from policies.loader import load_pack  # here, not at the top: a listing loads no pack

    s.flush()
    assert review.id is not None  # flushed: a stored review
    grade = Grade(review.grade) if review.grade else Grade.LOW
    return rules.Situation(
        review_id=review.id, state=lifecycle_state(s, review) if released else case_state(review),
        grade=grade, level=load_pack(review.policy_id).pack.level(grade) if review.policy_id else None,
        product=product_context(product, review), assignee=review.assignee,
        controls=tuple(rules.Control(*r) for r in s.connection().execute(_CONTROLS, {"rid": review.id})) if controls else (),
        approvals=tuple(round_approvals(s, review)) if approvals else ())


def judge(s: Session, who: Actor, act: rules.Act, review: Review, product: Product, *, target: Actor | None = None,
          **need: bool) -> rules.Situation:
    """Apply the rule book inside a use case: raise its refusal (the TUI shows the same words), else the situation."""
    sit = situation(s, review, product, **need)
    assert review.id is not None  # situation() flushed it
    verdict = rules.judge(who, act, sit, target=target)
    try:
        verdict.raise_if_refused(review.id, to=target.username if target else "")
    except Forbidden as exc:  # role, segregation or recusal: the refused attempt goes on the trail once the use case rolls back
        exc.after_rollback = partial(_record_refusal, who.username, act.value, review.id, verdict.reasons,
                                     target.username if target else None)
        raise
    return sit


#: audit-log action of a refused attempt (role, segregation of duties, recusal): ``refused:<act>``
REFUSED = "refused:"


def _record_refusal(actor: str, act: str, review_id: int, reasons: tuple[str, ...], target: str | None, db: Any) -> None:
    """Write the refused attempt in its own transaction, after the use case rolled back (the process report counts them)."""
    from review.services import audit

    with db.transaction() as s:
        audit.record(s, actor=actor, action=f"{REFUSED}{act}", entity="review", entity_id=review_id, before=None,
                     after={"reasons": list(reasons), **({"to": target} if target else {})})


def review_snapshot(review: Review) -> dict[str, Any]:
    """What the audit log records as before/after for a review."""
    return {
        "gate": review.gate,
        "status": review.status,
        "grade": review.grade,
        "assignee": review.assignee,
        "suspended_from": review.suspended_from,
        "round": review.round,
        "version": review.version,
    }


@lru_cache(maxsize=64)
def _review_update(columns: tuple[str, ...]) -> sa.Update:
    """``UPDATE review SET <columns> WHERE id = :rid AND version = :seen``, built once per set of columns."""
    t = table_of(Review)
    return sa.update(t).where(t.c.id == sa.bindparam("rid"), t.c.version == sa.bindparam("seen")).values(
        {c: sa.bindparam(c) for c in columns})


def save_review(session: Session, review: Review, seen_version: int, **changes: Any) -> Review:
    """Compare-and-set: apply ``changes`` only if nobody changed the review since ``seen_version``.

    Raises ``Conflict`` when another decision got there first; the caller's transaction
    then rolls back, so nothing of the losing use case is kept.
    """
    changes["updated_at"] = utcnow()
    changes["version"] = seen_version + 1
    session.flush()  # pending ORM changes first, as session.execute would (Core below does not autoflush)
    result = session.connection().execute(_review_update(tuple(sorted(changes))), {**changes, "rid": review.id, "seen": seen_version})
    if result.rowcount != 1:
        session.rollback()
        current = session.get(Review, review.id)
        now = f" (it is now {current.gate}/{current.status}, version {current.version})" if current else ""
        raise Conflict(
            f"review {review.id} was changed by someone else since you loaded it (version {seen_version}){now}; "
            "reload it and decide again"
        )
    # Keep the loaded object in step with the row without a SELECT and without marking it
    # dirty (a plain setattr would make the next flush issue a second, unchecked UPDATE).
    for k, v in changes.items():
        set_committed_value(review, k, v)
    from review.services.audit import touch

    touch(session, "review", [review.id])  # the ORM did not see this UPDATE: image it in the log
    return review
