"""People's ratings of tasks' results (``task_feedback``): a score in [0, 1] and a comment
per rating, with the attempt and agent rated and who rated (issue 14, user feedback).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "task_feedback",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("task_id", sa.String(36), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.String(100), nullable=False),
        sa.Column("task_type", sa.String(200), nullable=False),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("given_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
    )
    op.create_index("ix_task_feedback_task_id", "task_feedback", ["task_id"])
    op.create_index("ix_task_feedback_created_at", "task_feedback", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_task_feedback_created_at", table_name="task_feedback")
    op.drop_index("ix_task_feedback_task_id", table_name="task_feedback")
    op.drop_table("task_feedback")
