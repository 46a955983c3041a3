"""A review keeps what its grade is called under the pack that graded it (``review.grade_label``)

Revision ID: 0012_grade_label
Revises: 0011_eval

Lists, the queue, the dashboard and reports show a canada-aia review's UNACCEPTABLE as the pack names
it ("Level IV (very high impact)") without loading the pack. The existing reviews are filled from the
pack snapshots stored with their assessments: for each (pack, version) that graded reviews, the labels
its latest snapshot declares; a grade with no declared label (or no snapshot) keeps its own name.

The audit log's images of the reviews predate the column: ``ethics-review init`` re-images, once, the
reviews whose logged image differs from today's by this column alone (``audit.adopt_new_columns``).
"""
import json
from typing import Any, Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = "0012_grade_label"
down_revision: Union[str, Sequence[str], None] = "0011_eval"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

#: the grades by rank: a pack's levels are declared lowest first and stand for these in order
GRADES = ("LOW", "MEDIUM", "HIGH", "UNACCEPTABLE")


def upgrade() -> None:
    with op.batch_alter_table("review") as b:
        b.add_column(sa.Column("grade_label", sa.String(length=60), nullable=True))
    conn = op.get_bind()
    review = sa.table("review", sa.column("policy_id", sa.String), sa.column("policy_version", sa.String),
                      sa.column("grade", sa.String), sa.column("grade_label", sa.String))
    snapshot = sa.table("policy_snapshot", sa.column("pack_id", sa.String), sa.column("version", sa.String),
                        sa.column("body", sa.Text), sa.column("created_at", sa.DateTime))
    packs = conn.execute(sa.select(review.c.policy_id, review.c.policy_version).where(review.c.grade.is_not(None)).distinct()).all()
    for pack_id, version in packs:
        body = conn.execute(sa.select(sa.cast(snapshot.c.body, sa.Text)).where(snapshot.c.pack_id == pack_id, snapshot.c.version == version)
                            .order_by(snapshot.c.created_at.desc()).limit(1)).scalar()
        for grade, label in _labels(body).items():
            conn.execute(sa.update(review).where(review.c.policy_id == pack_id, review.c.policy_version == version,
                                                 review.c.grade == grade).values(grade_label=label))
    conn.execute(sa.update(review).where(review.c.grade.is_not(None), review.c.grade_label.is_(None)).values(grade_label=review.c.grade))


def _labels(body: Any) -> dict[str, str]:
    """{grade: label} a stored pack snapshot declares (its ``levels``, lowest first); {} when it declares none."""
    data = json.loads(body) if isinstance(body, str) else body
    levels = (data or {}).get("levels") or []
    return {str(lvl.get("grade") or g): str(lvl["label"])[:60] for g, lvl in zip(GRADES, levels) if isinstance(lvl, dict) and lvl.get("label")}


def downgrade() -> None:
    with op.batch_alter_table("review") as b:
        b.drop_column("grade_label")
