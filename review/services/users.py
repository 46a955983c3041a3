"""People: users with roles and teams, and conflict-of-interest declarations."""

from __future__ import annotations

import re

from sqlmodel import func, select

from review.domain.duties import Duty, Role, parse_roles, require
from review.errors import InvalidInput, NotFound
from review.services import audit
from review.services.common import load_actor
from review.store.db import Database, utcnow
from review.store.models import ConflictDeclaration, Product, User

_USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,63}$")


def add_user(db: Database, username: str, *, team: str, roles: str | list[str], display_name: str = "", actor: str | None) -> User:
    """Add a person. The very first user may be added without an actor and must be an admin."""
    if not _USERNAME.match(username or ""):
        raise InvalidInput(f"username {username!r}: use 2-64 lowercase letters, digits, '.', '_' or '-'")
    if not (team or "").strip():
        raise InvalidInput("--team: every person belongs to a team (segregation of duties depends on it)")
    role_set = parse_roles(roles)
    with db.transaction() as s:
        count = s.exec(select(func.count()).select_from(User)).one()
        if count:
            if actor is None:
                raise InvalidInput("who is acting? pass --as ADMIN (only the first user can be created without one)")
            require(load_actor(s, actor), Duty.MANAGE_USERS)
        elif Role.ADMIN not in role_set:
            raise InvalidInput("the first user must have the admin role (--role admin)")
        if s.exec(select(User).where(User.username == username)).first():
            raise InvalidInput(f"user {username!r} already exists")
        user = User(username=username, display_name=display_name or username, team=team.strip(),
                    roles=",".join(sorted(r.value for r in role_set)), created_at=utcnow())
        s.add(user)
        s.flush()
        audit.record(s, actor=actor or username, action="user-add", entity="user", entity_id=username, before=None,
                     after={"team": user.team, "roles": user.roles})
        return user


def list_users(db: Database) -> list[User]:
    with db.reading() as s:
        return list(s.exec(select(User).order_by(User.username)).all())


def require_duty(db: Database, actor: str, duty: Duty) -> None:
    """Refuse (``Forbidden``, naming the role needed) unless ``actor`` may perform ``duty`` (one not tied to a product)."""
    with db.reading() as s:
        require(load_actor(s, actor), duty)


def declare_conflict(db: Database, product_name: str, *, actor: str, reason: str) -> ConflictDeclaration:
    """A reviewer declares a conflict of interest on a product: they are recused from it."""
    if len((reason or "").strip()) < 3:
        raise InvalidInput("--reason: say what the conflict is (it is recorded)")
    with db.transaction() as s:
        who = load_actor(s, actor)
        require(who, Duty.DECLARE_CONFLICT)
        product = s.exec(select(Product).where(Product.name == product_name)).first()
        if product is None:
            raise NotFound(f"product {product_name!r} does not exist")
        existing = s.exec(select(ConflictDeclaration).where(ConflictDeclaration.username == who.username, ConflictDeclaration.product_id == product.id)).first()
        if existing:
            return existing
        assert product.id is not None  # a stored product
        decl = ConflictDeclaration(username=who.username, product_id=product.id, reason=reason.strip(), created_at=utcnow())
        s.add(decl)
        s.flush()
        audit.record(s, actor=who.username, action="declare-conflict", entity="product", entity_id=product.id, before=None,
                     after={"product": product.name, "reason": decl.reason})
        return decl


def get_user(db: Database, username: str) -> User:
    with db.reading() as s:
        user = s.exec(select(User).where(User.username == username)).first()
        if user is None:
            raise NotFound(f"unknown user {username!r}")
        return user
