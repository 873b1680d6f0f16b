"""Feedback: people's ratings of a task attempt's result."""

from __future__ import annotations

import sqlalchemy as sa

from imperium.adapters.storage.tables._base import metadata, when

task_feedback = sa.Table(
    "task_feedback",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("task_id", sa.String(36), nullable=False),
    sa.Column("attempt", sa.Integer(), nullable=False),
    sa.Column("agent_id", sa.String(100), nullable=False),
    sa.Column("task_type", sa.String(200), nullable=False),
    sa.Column("success", sa.Boolean(), nullable=False),
    sa.Column("score", sa.Float(), nullable=False),
    sa.Column("comment", sa.Text(), nullable=True),
    sa.Column("given_by", sa.String(200), nullable=False),
    when("created_at", nullable=False),
    sa.Index("ix_task_feedback_task_id", "task_id"),
    # replayed into the router at start, newest ratings first
    sa.Index("ix_task_feedback_created_at", "created_at"),
)
