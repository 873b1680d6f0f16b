"""An index on agent_task_executions.finished_at: learning reads the executions that
finished last (imported history takes its place by time, not by insertion order).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_agent_task_executions_finished_at", "agent_task_executions", ["finished_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_agent_task_executions_finished_at", table_name="agent_task_executions")
