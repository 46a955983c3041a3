"""Persistence: SQLModel tables, the database handle, Alembic migrations, repositories."""

from review.store.db import Database, utcnow

__all__ = ["Database", "utcnow"]
