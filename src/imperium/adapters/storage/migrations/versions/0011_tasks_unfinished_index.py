"""The tasks table's index of active rows is keyed and filtered on something that changes
once per task instead of on every state change: ``ix_tasks_active_state`` (the state, for
rows in an active state) becomes ``ix_tasks_unfinished`` (the creation time, for rows not
finished: what the scheduler loads at start) and ``ix_tasks_submitted`` (the creation
time, for rows submitted by other processes: what the scheduler polls for).

Keeping the old index up to date was about a third of SQLite's work per task: each state
change moved the row in it. A row now enters the unfinished index when inserted and leaves
it when it ends; the engine's updates in between do not set ``finished_at``.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE_STATE_SQL = "state IN ('submitted', 'pending', 'queued', 'running')"
UNFINISHED_SQL = "finished_at IS NULL"
SUBMITTED_SQL = "state = 'submitted'"


def _create(name: str, column: str, where: str) -> None:
    op.create_index(
        name, "tasks", [column], sqlite_where=sa.text(where), postgresql_where=sa.text(where)
    )


def upgrade() -> None:
    _create("ix_tasks_unfinished", "created_at", UNFINISHED_SQL)
    _create("ix_tasks_submitted", "created_at", SUBMITTED_SQL)
    op.drop_index("ix_tasks_active_state", table_name="tasks")


def downgrade() -> None:
    _create("ix_tasks_active_state", "state", ACTIVE_STATE_SQL)
    op.drop_index("ix_tasks_submitted", table_name="tasks")
    op.drop_index("ix_tasks_unfinished", table_name="tasks")
