"""Team tasks: one task given to k agents at once (domain/teams.py)."""

from __future__ import annotations

import sqlalchemy as sa

from imperium.adapters.storage.tables._base import metadata, when

team_runs = sa.Table(
    "team_runs",
    metadata,
    sa.Column("team_id", sa.String(36), primary_key=True),  # the members' workflow id
    sa.Column("task_type", sa.String(200), nullable=False),
    sa.Column("members", sa.JSON(), nullable=False),  # sorted agent ids
    sa.Column("task_ids", sa.JSON(), nullable=False),  # in the members' order
    sa.Column("quorum", sa.Integer(), nullable=False),
    sa.Column("chosen_by", sa.String(20), nullable=False),
    sa.Column("state", sa.String(20), nullable=False),
    when("created_at", nullable=False),
    when("finished_at"),
    sa.Column("member_states", sa.JSON(), nullable=False),
    sa.Column("results", sa.JSON(), nullable=False),
    sa.Index("ix_team_runs_state_created_at", "state", "created_at"),
    sa.Index("ix_team_runs_task_type_created_at", "task_type", "created_at"),
)
