"""An index of the events that say whether an agent's code loaded (``agent.loaded``,
``agent.load_failed``): ``agents list``, ``status`` and the API read each agent's latest
one, a few rows among millions of task events. Partial, so task events cost it nothing.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AGENT_LOAD_EVENT_SQL = "event_type IN ('agent.loaded', 'agent.load_failed')"


def upgrade() -> None:
    op.create_index(
        "ix_learning_logs_agent_loads",
        "learning_logs",
        ["agent_id", "id"],
        sqlite_where=sa.text(AGENT_LOAD_EVENT_SQL),
        postgresql_where=sa.text(AGENT_LOAD_EVENT_SQL),
    )


def downgrade() -> None:
    op.drop_index("ix_learning_logs_agent_loads", table_name="learning_logs")
