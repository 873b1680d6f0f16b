"""A partial index on learning events (the types outside task., agent. and scheduler.).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEARNING_EVENT_SQL = (
    "lower(event_type) NOT LIKE 'task.%' AND lower(event_type) NOT LIKE 'agent.%' "
    "AND lower(event_type) NOT LIKE 'scheduler.%'"
)


def upgrade() -> None:
    op.create_index(
        "ix_learning_logs_learning_events",
        "learning_logs",
        ["created_at"],
        sqlite_where=sa.text(LEARNING_EVENT_SQL),
        postgresql_where=sa.text(LEARNING_EVENT_SQL),
    )


def downgrade() -> None:
    op.drop_index("ix_learning_logs_learning_events", table_name="learning_logs")
