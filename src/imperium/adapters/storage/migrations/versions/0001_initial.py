"""Initial schema: agents, tasks, executions, events, scheduler lock.

Revision ID: 0001
Revises:
Create Date: 2025-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE_STATE_SQL = "state IN ('submitted', 'pending', 'queued', 'running')"
CANCEL_REQUESTED_SQL = "cancel_requested_at IS NOT NULL"
WORKFLOW_SQL = "workflow_id IS NOT NULL"


def _when(name: str, *, nullable: bool = True) -> sa.Column[float]:
    return sa.Column(name, sa.Double(), nullable=nullable)


def _big_id() -> sa.Column[int]:
    id_type = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    return sa.Column("id", id_type, primary_key=True, autoincrement=True)


def upgrade() -> None:
    op.create_table(
        "agent_metrics",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("agent_id", sa.String(100), nullable=False),
        sa.Column("agent_type", sa.String(200), nullable=False),
        sa.Column("learning_score", sa.Float(), nullable=False, server_default=sa.text("0")),
        sa.Column("success_rate", sa.Float(), nullable=False, server_default=sa.text("0")),
        sa.Column("failure_rate", sa.Float(), nullable=False, server_default=sa.text("0")),
        sa.Column(
            "total_learning_cycles", sa.Integer(), nullable=False, server_default=sa.text("0")
        ),
        _when("last_learning_cycle"),
        _when("last_success"),
        _when("last_failure"),
        sa.Column("learning_patterns", sa.JSON(), nullable=False, server_default=sa.text("'[]'")),
        sa.Column(
            "improvement_suggestions", sa.JSON(), nullable=False, server_default=sa.text("'[]'")
        ),
        sa.Column("status", sa.String(20), nullable=False, server_default=sa.text("'active'")),
        sa.Column("is_active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("priority", sa.String(20), nullable=False, server_default=sa.text("'medium'")),
        sa.Column("capabilities", sa.JSON(), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("max_concurrency", sa.Integer(), nullable=False),
        sa.Column("resources", sa.JSON(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False, server_default=sa.text("''")),
        _when("created_at", nullable=False),
        _when("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_agent_metrics"),
        sa.UniqueConstraint("agent_id", name="uq_agent_metrics_agent_id"),
    )
    op.create_index("ix_agent_metrics_updated_at", "agent_metrics", ["updated_at"])

    op.create_table(
        "tasks",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("type", sa.String(200), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=True),
        sa.Column("capabilities", sa.JSON(), nullable=False),
        sa.Column("priority", sa.String(20), nullable=False),
        sa.Column("complexity", sa.Float(), nullable=False),
        _when("deadline"),
        sa.Column("timeout", sa.Float(), nullable=True),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("resources", sa.JSON(), nullable=False),
        sa.Column("pinned_agent", sa.String(100), nullable=True),
        sa.Column("depends_on", sa.JSON(), nullable=False),
        sa.Column("workflow_id", sa.String(36), nullable=True),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("estimated_duration", sa.Float(), nullable=True),
        sa.Column("dependents", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_token", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.String(100), nullable=True),
        _when("lease_expires_at"),
        _when("not_before"),
        _when("started_at"),
        _when("finished_at"),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("error_kind", sa.String(100), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("score", sa.Float(), nullable=False),
        _when("created_at", nullable=False),
        _when("updated_at", nullable=False),
        _when("cancel_requested_at"),
        sa.PrimaryKeyConstraint("id", name="pk_tasks"),
    )
    op.create_index(
        "ix_tasks_active_state",
        "tasks",
        ["state"],
        sqlite_where=sa.text(ACTIVE_STATE_SQL),
        postgresql_where=sa.text(ACTIVE_STATE_SQL),
    )
    op.create_index(
        "ix_tasks_cancel_requested_at",
        "tasks",
        ["cancel_requested_at"],
        sqlite_where=sa.text(CANCEL_REQUESTED_SQL),
        postgresql_where=sa.text(CANCEL_REQUESTED_SQL),
    )
    op.create_index(
        "ix_tasks_workflow_id",
        "tasks",
        ["workflow_id"],
        sqlite_where=sa.text(WORKFLOW_SQL),
        postgresql_where=sa.text(WORKFLOW_SQL),
    )

    op.create_table(
        "agent_task_executions",
        _big_id(),
        sa.Column("task_id", sa.String(36), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.String(100), nullable=True),
        sa.Column("agents_used", sa.JSON(), nullable=False),
        sa.Column("task_type", sa.String(200), nullable=False),
        sa.Column("complexity", sa.Float(), nullable=False),
        _when("started_at", nullable=False),
        _when("finished_at", nullable=False),
        sa.Column("duration_seconds", sa.Float(), nullable=False),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("error_kind", sa.String(100), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("resources", sa.JSON(), nullable=False),
        sa.Column("tokens", sa.Integer(), nullable=True),
        sa.Column("cost", sa.Float(), nullable=True),
        sa.Column("lease_token", sa.Integer(), nullable=False),
        sa.Column("user_satisfaction", sa.Integer(), nullable=True),
        _when("created_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_agent_task_executions"),
        sa.UniqueConstraint("task_id", "attempt", name="uq_agent_task_executions_task_id_attempt"),
    )

    op.create_table(
        "learning_logs",
        _big_id(),
        sa.Column("event_type", sa.String(100), nullable=False),
        sa.Column("agent_id", sa.String(100), nullable=True),
        sa.Column("agent_type", sa.String(50), nullable=True),
        sa.Column("topic", sa.String(200), nullable=True),
        sa.Column("results_count", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("results_sample", sa.JSON(), nullable=True),
        sa.Column("insights", sa.JSON(), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("processing_time", sa.Float(), nullable=True),
        sa.Column("impact_score", sa.Float(), nullable=False, server_default=sa.text("0")),
        sa.Column("event_data", sa.JSON(), nullable=True),
        sa.Column("task_id", sa.String(36), nullable=True),
        _when("created_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_learning_logs"),
    )
    op.create_index("ix_learning_logs_task_id", "learning_logs", ["task_id"])
    op.create_index("ix_learning_logs_created_at", "learning_logs", ["created_at"])

    op.create_table(
        "scheduler_lock",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        _when("expires_at", nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_scheduler_lock"),
    )


def downgrade() -> None:
    op.drop_table("scheduler_lock")
    op.drop_index("ix_learning_logs_created_at", table_name="learning_logs")
    op.drop_index("ix_learning_logs_task_id", table_name="learning_logs")
    op.drop_table("learning_logs")
    op.drop_table("agent_task_executions")
    op.drop_index("ix_tasks_workflow_id", table_name="tasks")
    op.drop_index("ix_tasks_cancel_requested_at", table_name="tasks")
    op.drop_index("ix_tasks_active_state", table_name="tasks")
    op.drop_table("tasks")
    op.drop_index("ix_agent_metrics_updated_at", table_name="agent_metrics")
    op.drop_table("agent_metrics")
