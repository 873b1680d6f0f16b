"""The executions' time index carries the outcome too (``finished_at``, ``outcome``), so the
dashboard's throughput and success-rate series is counted from the index alone instead of
looking up every attempt's row in the range. It replaces the index on ``finished_at``
(the same entries, one column wider), so writing an execution costs the same.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "agent_task_executions"


def upgrade() -> None:
    op.create_index("ix_agent_task_executions_finished_outcome", TABLE, ["finished_at", "outcome"])
    op.drop_index("ix_agent_task_executions_finished_at", table_name=TABLE)


def downgrade() -> None:
    op.create_index("ix_agent_task_executions_finished_at", TABLE, ["finished_at"])
    op.drop_index("ix_agent_task_executions_finished_outcome", table_name=TABLE)
