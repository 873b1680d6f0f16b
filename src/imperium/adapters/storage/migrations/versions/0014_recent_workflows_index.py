"""The dashboard's list of recent workflows: the newest tasks that belong to a workflow,
read from a partial index of their own (``created_at``, ``workflow_id``; tasks outside
workflows cost it nothing, and ``created_at`` never changes, so a task writes its entry
once).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WORKFLOW_SQL = "workflow_id IS NOT NULL"


def upgrade() -> None:
    op.create_index(
        "ix_tasks_workflow_created_at",
        "tasks",
        ["created_at", "workflow_id"],
        sqlite_where=sa.text(WORKFLOW_SQL),
        postgresql_where=sa.text(WORKFLOW_SQL),
    )


def downgrade() -> None:
    op.drop_index("ix_tasks_workflow_created_at", table_name="tasks")
