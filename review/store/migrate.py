"""Alembic, driven from code: ``ethics-review init`` upgrades the schema to head."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

if TYPE_CHECKING:
    from review.store.db import Database

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(db: "Database") -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", db.url.replace("%", "%%"))
    return cfg


def upgrade(db: "Database") -> str:
    cfg = alembic_config(db)
    with db.engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "heads")
        conn.commit()
    return ",".join(head_revisions())


def head_revisions() -> list[str]:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return list(ScriptDirectory.from_config(cfg).get_heads())


def current_revisions(db: "Database") -> set[str]:
    with db.read_engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


#: Columns a migration added to a state table and filled: the audit log's images of the rows before it lack them,
#: so ``ethics-review init`` re-images the rows that differ by these alone (``audit.adopt_new_columns``).
ADDED_STATE_COLUMNS: dict[str, tuple[str, tuple[str, ...]]] = {
    "0008_audits_count": ("assessment", ("warnings",)),
    "0012_grade_label": ("review", ("grade_label",)),
}


def applied(db: "Database", revision: str) -> bool:
    """``revision`` is part of the database's schema (it or a later revision is applied)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    heads = current_revisions(db)
    if not heads:
        return False
    return any(r.revision == revision for r in ScriptDirectory.from_config(cfg).iterate_revisions(tuple(heads), "base"))


def is_current(db: "Database") -> bool:
    return current_revisions(db) == set(head_revisions())
