"""post-release follow-ups, feedback, notifications (flows work)

Revision ID: 0002_followups
Revises: 0001_core
"""
from typing import Sequence, Union

from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401
import sqlmodel  # noqa: F401

revision: str = "0002_followups"
down_revision: Union[str, Sequence[str], None] = "0001_core"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
