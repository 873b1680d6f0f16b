"""Team tasks: one row per task given to a team of agents, with its members, their tasks
and the team's outcome (what the router learns combinations from).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _when(name: str, *, nullable: bool = True) -> sa.Column[float]:
    return sa.Column(name, sa.Double(), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "team_runs",
        sa.Column("team_id", sa.String(36), nullable=False),
        sa.Column("task_type", sa.String(200), nullable=False),
        sa.Column("members", sa.JSON(), nullable=False),
        sa.Column("task_ids", sa.JSON(), nullable=False),
        sa.Column("quorum", sa.Integer(), nullable=False),
        sa.Column("chosen_by", sa.String(20), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        _when("created_at", nullable=False),
        _when("finished_at"),
        sa.Column("member_states", sa.JSON(), nullable=False),
        sa.Column("results", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("team_id", name="pk_team_runs"),
    )
    op.create_index("ix_team_runs_state_created_at", "team_runs", ["state", "created_at"])
    op.create_index("ix_team_runs_task_type_created_at", "team_runs", ["task_type", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_team_runs_task_type_created_at", table_name="team_runs")
    op.drop_index("ix_team_runs_state_created_at", table_name="team_runs")
    op.drop_table("team_runs")
