"""Indexes the dashboard's reads need with millions of rows: tasks listed newest first
(by time range, in keyset pages) over ``ix_tasks_created_at``; tasks that ended dead in
a recent range over a partial index of their ``task.dead`` events (task events of every
other type cost it nothing). ``created_at`` never changes, so a task writes its entry in
``ix_tasks_created_at`` once, when inserted.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEAD_TASK_EVENT_SQL = "event_type = 'task.dead'"


def upgrade() -> None:
    op.create_index("ix_tasks_created_at", "tasks", ["created_at", "id"])
    op.create_index(
        "ix_learning_logs_dead_tasks",
        "learning_logs",
        ["created_at"],
        sqlite_where=sa.text(DEAD_TASK_EVENT_SQL),
        postgresql_where=sa.text(DEAD_TASK_EVENT_SQL),
    )


def downgrade() -> None:
    op.drop_index("ix_learning_logs_dead_tasks", table_name="learning_logs")
    op.drop_index("ix_tasks_created_at", table_name="tasks")
