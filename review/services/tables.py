"""The Core table behind a SQLModel table class, typed for the checker."""

from __future__ import annotations

from typing import cast

import sqlalchemy as sa
from sqlmodel import SQLModel


def table_of(model: type[SQLModel]) -> sa.Table:
    """``model.__table__`` (SQLAlchemy sets it on every ``table=True`` class; SQLModel does not declare it)."""
    return cast(sa.Table, model.__table__)  # type: ignore[attr-defined]  # set at class creation, undeclared in SQLModel's stubs
