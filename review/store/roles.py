"""PostgreSQL: an application role that can do everything the server needs except rewrite the audit log.

The schema owner runs migrations; the server connects as this role. It gets SELECT, INSERT,
UPDATE and DELETE on every table, but only SELECT and INSERT on ``audit_log`` and
``audit_checkpoint`` (their triggers refuse UPDATE and DELETE even to the owner, who could
drop a trigger; this role cannot).
"""

from __future__ import annotations

import re

import sqlalchemy as sa

from review.errors import InvalidInput
from review.store.db import Database

APPEND_ONLY = ("audit_log", "audit_checkpoint")
_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def create_app_role(db: Database, role: str, password: str | None = None) -> str:
    """Create (or refresh the rights of) ``role``; returns the schema it was granted."""
    if db.is_sqlite:
        raise InvalidInput("--app-role needs PostgreSQL: SQLite has no roles (its triggers still refuse UPDATE and DELETE on the audit log)")
    if not _NAME.match(role):
        raise InvalidInput(f"--app-role {role!r}: use lowercase letters, digits and '_' (a PostgreSQL role name)")
    q = f'"{role}"'
    with db.engine.begin() as conn:
        schema = conn.execute(sa.text("SELECT current_schema()")).scalar_one()
        exists = conn.execute(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first()
        if not exists:
            conn.exec_driver_sql(f"CREATE ROLE {q} LOGIN")
        if password:
            conn.exec_driver_sql(f"ALTER ROLE {q} PASSWORD %(p)s", {"p": password})
        s = f'"{schema}"'
        conn.exec_driver_sql(f"GRANT USAGE ON SCHEMA {s} TO {q}")
        conn.exec_driver_sql(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {s} TO {q}")
        conn.exec_driver_sql(f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA {s} TO {q}")
        for table in APPEND_ONLY:
            conn.exec_driver_sql(f'REVOKE UPDATE, DELETE, TRUNCATE ON {s}."{table}" FROM {q}')
    return schema
