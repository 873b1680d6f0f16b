"""The engine's tables: agents, tasks, their attempts, the event log and the scheduler's lock,
with the predicates of their partial indexes."""

from __future__ import annotations

import sqlalchemy as sa

from imperium.adapters.storage.tables._base import BigId, NullableJSON, metadata, when

ACTIVE_STATE_NAMES = ("submitted", "pending", "queued", "running")
ACTIVE_STATE_SQL = "state IN ('submitted', 'pending', 'queued', 'running')"
# The partial index predicates below are written out literally (not as bound parameters) so
# that the query planners of SQLite and PostgreSQL can match a query's WHERE against them.
# No index has the state as its key: every state change would move the row in it (about a
# third of SQLite's work per task, measured). A task's row leaves the unfinished index once,
# when it ends; the engine's other updates leave ``finished_at`` out of their SET list, so
# SQLite does not touch that index for them (``_batch``).
UNFINISHED_SQL = "finished_at IS NULL"
SUBMITTED_SQL = "state = 'submitted'"
CANCEL_REQUESTED_SQL = "cancel_requested_at IS NOT NULL"
WORKFLOW_SQL = "workflow_id IS NOT NULL"
# Learning events: every type outside the engine's namespaces (domain/events.py).
LEARNING_EVENT_SQL = (
    "lower(event_type) NOT LIKE 'task.%' AND lower(event_type) NOT LIKE 'agent.%' "
    "AND lower(event_type) NOT LIKE 'scheduler.%'"
)
# Whether agents' code loaded: a few rows among the engine's events, found by their own index.
AGENT_LOAD_EVENT_SQL = "event_type IN ('agent.loaded', 'agent.load_failed')"
DEAD_TASK_EVENT_SQL = "event_type = 'task.dead'"
SCHEDULER_LOCK_NAME = "scheduler"


agent_metrics = sa.Table(
    "agent_metrics",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("agent_id", sa.String(100), nullable=False),
    sa.Column("agent_type", sa.String(200), nullable=False),
    sa.Column("learning_score", sa.Float(), nullable=False, server_default=sa.text("0")),
    sa.Column("success_rate", sa.Float(), nullable=False, server_default=sa.text("0")),
    sa.Column("failure_rate", sa.Float(), nullable=False, server_default=sa.text("0")),
    sa.Column("total_learning_cycles", sa.Integer(), nullable=False, server_default=sa.text("0")),
    when("last_learning_cycle"),
    when("last_success"),
    when("last_failure"),
    sa.Column("learning_patterns", sa.JSON(), nullable=False, server_default=sa.text("'[]'")),
    sa.Column("improvement_suggestions", sa.JSON(), nullable=False, server_default=sa.text("'[]'")),
    sa.Column("status", sa.String(20), nullable=False, server_default=sa.text("'active'")),
    sa.Column("is_active", sa.Boolean(), nullable=False, server_default=sa.true()),
    sa.Column("priority", sa.String(20), nullable=False, server_default=sa.text("'medium'")),
    sa.Column("capabilities", sa.JSON(), nullable=False),
    sa.Column("config", sa.JSON(), nullable=False),
    sa.Column("max_concurrency", sa.Integer(), nullable=False),
    sa.Column("resources", sa.JSON(), nullable=False),
    sa.Column("description", sa.Text(), nullable=False, server_default=sa.text("''")),
    when("created_at", nullable=False),
    when("updated_at", nullable=False),
    sa.UniqueConstraint("agent_id", name="uq_agent_metrics_agent_id"),
    sa.Index("ix_agent_metrics_updated_at", "updated_at"),
)

tasks = sa.Table(
    "tasks",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    # what was submitted (never changes)
    sa.Column("type", sa.String(200), nullable=False),
    sa.Column("payload", NullableJSON, nullable=True),
    sa.Column("capabilities", sa.JSON(), nullable=False),
    sa.Column("priority", sa.String(20), nullable=False),
    sa.Column("complexity", sa.Float(), nullable=False),
    when("deadline"),
    sa.Column("timeout", sa.Float(), nullable=True),
    sa.Column("max_attempts", sa.Integer(), nullable=False),
    sa.Column("resources", sa.JSON(), nullable=False),
    sa.Column("pinned_agent", sa.String(100), nullable=True),
    sa.Column("depends_on", sa.JSON(), nullable=False),
    sa.Column("workflow_id", sa.String(36), nullable=True),
    sa.Column("name", sa.String(200), nullable=True),
    sa.Column("estimated_duration", sa.Float(), nullable=True),
    sa.Column("dependents", sa.Integer(), nullable=False),
    # the scheduler's snapshot (TaskSnapshot)
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("restarts", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("lease_token", sa.Integer(), nullable=False),
    sa.Column("agent_id", sa.String(100), nullable=True),
    when("lease_expires_at"),
    when("not_before"),
    when("started_at"),
    when("finished_at"),
    sa.Column("result", NullableJSON, nullable=True),
    sa.Column("error_kind", sa.String(100), nullable=True),
    sa.Column("error_message", sa.Text(), nullable=True),
    sa.Column("score", sa.Float(), nullable=False),
    when("created_at", nullable=False),
    when("updated_at", nullable=False),
    # written by other processes (API, CLI), cleared by the scheduler once handled
    when("cancel_requested_at"),
    sa.Index(
        "ix_tasks_unfinished",
        "created_at",
        sqlite_where=sa.text(UNFINISHED_SQL),
        postgresql_where=sa.text(UNFINISHED_SQL),
    ),
    sa.Index(
        "ix_tasks_submitted",
        "created_at",
        sqlite_where=sa.text(SUBMITTED_SQL),
        postgresql_where=sa.text(SUBMITTED_SQL),
    ),
    sa.Index(
        "ix_tasks_cancel_requested_at",
        "cancel_requested_at",
        sqlite_where=sa.text(CANCEL_REQUESTED_SQL),
        postgresql_where=sa.text(CANCEL_REQUESTED_SQL),
    ),
    # the listing (API, dashboard): newest first, by time range, keyset pages; created_at
    # never changes, so a task costs this index one entry, written once
    sa.Index("ix_tasks_created_at", "created_at", "id"),
    sa.Index(
        "ix_tasks_workflow_id",
        "workflow_id",
        sqlite_where=sa.text(WORKFLOW_SQL),
        postgresql_where=sa.text(WORKFLOW_SQL),
    ),
    # the dashboard's recent workflows: the newest workflow tasks, read from the index alone
    sa.Index(
        "ix_tasks_workflow_created_at",
        "created_at",
        "workflow_id",
        sqlite_where=sa.text(WORKFLOW_SQL),
        postgresql_where=sa.text(WORKFLOW_SQL),
    ),
)

agent_task_executions = sa.Table(
    "agent_task_executions",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("task_id", sa.String(36), nullable=False),
    sa.Column("attempt", sa.Integer(), nullable=False),
    sa.Column("agent_id", sa.String(100), nullable=True),
    sa.Column("agents_used", sa.JSON(), nullable=False),
    sa.Column("task_type", sa.String(200), nullable=False),
    sa.Column("complexity", sa.Float(), nullable=False),
    when("started_at", nullable=False),
    when("finished_at", nullable=False),
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
    when("created_at", nullable=False),
    # one row per attempt: a result is recorded once, enforced by the database as well
    sa.UniqueConstraint("task_id", "attempt", name="uq_agent_task_executions_task_id_attempt"),
    sa.Index("ix_agent_task_executions_finished_outcome", "finished_at", "outcome"),
)

learning_logs = sa.Table(
    "learning_logs",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("event_type", sa.String(100), nullable=False),
    sa.Column("agent_id", sa.String(100), nullable=True),
    sa.Column("agent_type", sa.String(50), nullable=True),
    sa.Column("topic", sa.String(200), nullable=True),
    sa.Column("results_count", sa.Integer(), nullable=False, server_default=sa.text("0")),
    sa.Column("results_sample", NullableJSON, nullable=True),
    sa.Column("insights", NullableJSON, nullable=True),
    sa.Column("error_message", sa.Text(), nullable=True),
    sa.Column("processing_time", sa.Float(), nullable=True),
    sa.Column("impact_score", sa.Float(), nullable=False, server_default=sa.text("0")),
    sa.Column("event_data", NullableJSON, nullable=True),
    sa.Column("task_id", sa.String(36), nullable=True),
    when("created_at", nullable=False),
    sa.Index("ix_learning_logs_task_id", "task_id"),
    sa.Index("ix_learning_logs_created_at", "created_at"),
    # Learning analytics read only learning events, a small share of the rows: a partial
    # index finds them without scanning the engine's events, and costs those no writes.
    sa.Index(
        "ix_learning_logs_learning_events",
        "created_at",
        sqlite_where=sa.text(LEARNING_EVENT_SQL),
        postgresql_where=sa.text(LEARNING_EVENT_SQL),
    ),
    # dead tasks per time range (the dashboard): a few rows among millions of task events
    sa.Index(
        "ix_learning_logs_dead_tasks",
        "created_at",
        sqlite_where=sa.text(DEAD_TASK_EVENT_SQL),
        postgresql_where=sa.text(DEAD_TASK_EVENT_SQL),
    ),
    sa.Index(
        "ix_learning_logs_agent_loads",
        "agent_id",
        "id",
        sqlite_where=sa.text(AGENT_LOAD_EVENT_SQL),
        postgresql_where=sa.text(AGENT_LOAD_EVENT_SQL),
    ),
)

scheduler_lock = sa.Table(
    "scheduler_lock",
    metadata,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("owner", sa.String(200), nullable=False),
    when("expires_at", nullable=False),
)
