"""Product-name search by index on SQLite too (an FTS5 trigram table kept in sync by triggers), and one index
for a reviewer's overdue list

Revision ID: 0010_name_index
Revises: 0009_scanners

SQLite: ``product_name_fts`` is an external-content FTS5 table over ``product.name`` (the
names are not stored twice) with the trigram tokenizer, case-insensitive: a quoted query of 3
or more characters finds exactly the names that contain it, through the index. Triggers keep
it in sync with every insert, rename and delete, however the rows are written (the services,
bulk SQL, the sqlite3 shell); the existing names are indexed here. PostgreSQL has had its
trigram index since 0005.

Both: ``ix_review_assignee_status_due`` answers "assigned to X, awaiting the committee, due
before now" from the index alone (the count no longer reads every review of the assignee).
"""
from typing import Sequence, Union

from alembic import op

revision: str = "0010_name_index"
down_revision: Union[str, Sequence[str], None] = "0009_scanners"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

SQLITE_FTS = [
    "CREATE VIRTUAL TABLE product_name_fts USING fts5(name, content='product', content_rowid='id', tokenize='trigram case_sensitive 0')",
    """CREATE TRIGGER product_name_fts_insert AFTER INSERT ON product BEGIN
        INSERT INTO product_name_fts(rowid, name) VALUES (new.id, new.name);
    END""",
    """CREATE TRIGGER product_name_fts_delete AFTER DELETE ON product BEGIN
        INSERT INTO product_name_fts(product_name_fts, rowid, name) VALUES ('delete', old.id, old.name);
    END""",
    """CREATE TRIGGER product_name_fts_rename AFTER UPDATE OF id, name ON product BEGIN
        INSERT INTO product_name_fts(product_name_fts, rowid, name) VALUES ('delete', old.id, old.name);
        INSERT INTO product_name_fts(rowid, name) VALUES (new.id, new.name);
    END""",
    "INSERT INTO product_name_fts(product_name_fts) VALUES ('rebuild')",
]


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE_FTS:
            op.execute(statement)
    op.create_index("ix_review_assignee_status_due", "review", ["assignee", "status", "due_at"])


def downgrade() -> None:
    op.drop_index("ix_review_assignee_status_due", table_name="review")
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("product_name_fts_insert", "product_name_fts_delete", "product_name_fts_rename"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS product_name_fts")
