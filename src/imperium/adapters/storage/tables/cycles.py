"""Learning cycles: what each cycle found, and the model versions it trained."""

from __future__ import annotations

import sqlalchemy as sa

from imperium.adapters.storage.tables._base import BigId, metadata, when

learning_cycles = sa.Table(
    "learning_cycles",
    metadata,
    sa.Column("cycle_id", sa.String(36), primary_key=True),
    when("start_time", nullable=False),
    when("end_time"),
    sa.Column("participating_agents", sa.JSON(), nullable=False),
    sa.Column("total_learning_value", sa.Float(), nullable=True),
    sa.Column("success_count", sa.Integer(), nullable=False),
    sa.Column("failure_count", sa.Integer(), nullable=False),
    sa.Column("insights_generated", sa.Integer(), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("trigger", sa.String(20), nullable=False),
    # the seed's column name; read it as ``learning_cycles.c["metadata"]``
    sa.Column("metadata", sa.JSON(), nullable=False),
    sa.Index("ix_learning_cycles_start_time", "start_time"),
)

learning_insights = sa.Table(
    "learning_insights",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("cycle_id", sa.String(36), nullable=True),
    sa.Column("insight_type", sa.String(30), nullable=False),
    sa.Column("task_type", sa.String(200), nullable=False),
    sa.Column("agents", sa.JSON(), nullable=False),
    sa.Column("description", sa.Text(), nullable=False),
    sa.Column("confidence", sa.Float(), nullable=False),
    sa.Column("sample_size", sa.Integer(), nullable=False),
    sa.Column("data", sa.JSON(), nullable=False),
    when("created_at", nullable=False),
    sa.Index("ix_learning_insights_created_at", "created_at"),
    sa.Index("ix_learning_insights_insight_type_created_at", "insight_type", "created_at"),
)

learning_models = sa.Table(
    "learning_models",
    metadata,
    sa.Column("version", sa.String(60), primary_key=True),
    sa.Column("cycle_id", sa.String(36), nullable=True),
    sa.Column("kind", sa.String(30), nullable=False),
    when("trained_at", nullable=False),
    sa.Column("train_samples", sa.Integer(), nullable=False),
    sa.Column("held_out", sa.Integer(), nullable=False),
    sa.Column("auc", sa.Float(), nullable=True),
    sa.Column("brier", sa.Float(), nullable=True),
    sa.Column("mae_log_duration", sa.Float(), nullable=True),
    sa.Column("baseline_brier", sa.Float(), nullable=True),
    sa.Column("fallback_reason", sa.Text(), nullable=True),
    sa.Index("ix_learning_models_trained_at", "trained_at"),
)
