"""AIGC content-safety audits (content-audit work)

Revision ID: 0003_content
Revises: 0002_followups
"""
from typing import Sequence, Union

from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401
import sqlmodel  # noqa: F401

revision: str = "0003_content"
down_revision: Union[str, Sequence[str], None] = "0002_followups"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
