"""Product-name search: a trigram index on PostgreSQL (ILIKE '%term%' without a table scan)

Revision ID: 0005_name_search
Revises: 0004_api_tokens

``pg_trgm`` is a trusted extension (PostgreSQL 13+): a database owner may create it. It is
created in ``public`` so every schema's index can name its operator class. Where the role
may not create it, the index is skipped with a notice and search still works, by a scan.
SQLite: nothing (its LIKE scans a table that is small enough on a single machine).
"""
from typing import Sequence, Union

from alembic import op

revision: str = "0005_name_search"
down_revision: Union[str, Sequence[str], None] = "0004_api_tokens"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("""
    DO $$
    BEGIN
        BEGIN
            CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public;
        EXCEPTION WHEN insufficient_privilege OR feature_not_supported OR undefined_file THEN
            RAISE NOTICE 'pg_trgm is not available (%): product-name search will scan', SQLERRM;
        END;
        IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
            EXECUTE 'CREATE INDEX IF NOT EXISTS ix_product_name_trgm ON product USING gin (name public.gin_trgm_ops)';
        END IF;
    END $$;
    """)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_product_name_trgm")
