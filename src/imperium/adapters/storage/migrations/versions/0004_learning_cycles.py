"""Learning cycles, the insights they find and the model versions they train.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _when(name: str, *, nullable: bool = True) -> sa.Column[float]:
    return sa.Column(name, sa.Double(), nullable=nullable)


def _big_id() -> sa.Column[int]:
    id_type = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    return sa.Column("id", id_type, primary_key=True, autoincrement=True)


def upgrade() -> None:
    op.create_table(
        "learning_cycles",
        sa.Column("cycle_id", sa.String(36), nullable=False),
        _when("start_time", nullable=False),
        _when("end_time"),
        sa.Column("participating_agents", sa.JSON(), nullable=False),
        sa.Column("total_learning_value", sa.Float(), nullable=True),
        sa.Column("success_count", sa.Integer(), nullable=False),
        sa.Column("failure_count", sa.Integer(), nullable=False),
        sa.Column("insights_generated", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("trigger", sa.String(20), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("cycle_id", name="pk_learning_cycles"),
    )
    op.create_index("ix_learning_cycles_start_time", "learning_cycles", ["start_time"])

    op.create_table(
        "learning_insights",
        _big_id(),
        sa.Column("cycle_id", sa.String(36), nullable=True),
        sa.Column("insight_type", sa.String(30), nullable=False),
        sa.Column("task_type", sa.String(200), nullable=False),
        sa.Column("agents", sa.JSON(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("sample_size", sa.Integer(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        _when("created_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_learning_insights"),
    )
    op.create_index("ix_learning_insights_created_at", "learning_insights", ["created_at"])
    op.create_index(
        "ix_learning_insights_insight_type_created_at",
        "learning_insights",
        ["insight_type", "created_at"],
    )

    op.create_table(
        "learning_models",
        sa.Column("version", sa.String(60), nullable=False),
        sa.Column("cycle_id", sa.String(36), nullable=True),
        sa.Column("kind", sa.String(30), nullable=False),
        _when("trained_at", nullable=False),
        sa.Column("train_samples", sa.Integer(), nullable=False),
        sa.Column("held_out", sa.Integer(), nullable=False),
        sa.Column("auc", sa.Float(), nullable=True),
        sa.Column("brier", sa.Float(), nullable=True),
        sa.Column("mae_log_duration", sa.Float(), nullable=True),
        sa.Column("baseline_brier", sa.Float(), nullable=True),
        sa.Column("fallback_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("version", name="pk_learning_models"),
    )
    op.create_index("ix_learning_models_trained_at", "learning_models", ["trained_at"])


def downgrade() -> None:
    op.drop_index("ix_learning_models_trained_at", table_name="learning_models")
    op.drop_table("learning_models")
    op.drop_index("ix_learning_insights_insight_type_created_at", table_name="learning_insights")
    op.drop_index("ix_learning_insights_created_at", table_name="learning_insights")
    op.drop_table("learning_insights")
    op.drop_index("ix_learning_cycles_start_time", table_name="learning_cycles")
    op.drop_table("learning_cycles")
