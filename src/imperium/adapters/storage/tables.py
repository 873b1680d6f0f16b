"""The schema, as SQLAlchemy Core tables (Core, not ORM: the scheduler writes thousands of
rows per second through executemany batches).

Migrations in ``migrations/versions`` create exactly these tables; a test compares the two.
Indexes are kept to what a query needs, since each one costs write throughput.
Timestamps are epoch seconds (UTC) in double-precision columns, as in the domain: no
conversion on the hot path. In SQL, ``to_timestamp(created_at)`` (PostgreSQL) or
``datetime(created_at, 'unixepoch')`` (SQLite) shows them as times.
"""

from __future__ import annotations

import sqlalchemy as sa

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

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

# Event and execution ids grow by tens of thousands a second under load: 64-bit on
# PostgreSQL; on SQLite only ``INTEGER PRIMARY KEY`` autoincrements (and is 64-bit anyway).
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


# Python None is SQL NULL (not the JSON text 'null'), so ``IS NULL`` finds absent values.
NullableJSON = sa.JSON(none_as_null=True)


def _when(name: str, *, nullable: bool = True) -> sa.Column[float]:
    return sa.Column(name, sa.Double(), nullable=nullable)


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
    _when("last_learning_cycle"),
    _when("last_success"),
    _when("last_failure"),
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
    _when("created_at", nullable=False),
    _when("updated_at", nullable=False),
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
    # the scheduler's snapshot (TaskSnapshot)
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("restarts", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("lease_token", sa.Integer(), nullable=False),
    sa.Column("agent_id", sa.String(100), nullable=True),
    _when("lease_expires_at"),
    _when("not_before"),
    _when("started_at"),
    _when("finished_at"),
    sa.Column("result", NullableJSON, nullable=True),
    sa.Column("error_kind", sa.String(100), nullable=True),
    sa.Column("error_message", sa.Text(), nullable=True),
    sa.Column("score", sa.Float(), nullable=False),
    _when("created_at", nullable=False),
    _when("updated_at", nullable=False),
    # written by other processes (API, CLI), cleared by the scheduler once handled
    _when("cancel_requested_at"),
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
    _when("created_at", nullable=False),
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
    _when("expires_at", nullable=False),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.String(12), primary_key=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("agent_id", sa.String(100), nullable=True),
    sa.Column("secret_hash", sa.String(64), nullable=False),
    _when("created_at", nullable=False),
    _when("revoked_at"),
    sa.Column("capabilities", sa.JSON(), nullable=True),  # agent keys: allowed capabilities
)

# -- learning cycles: what each cycle found, and the model versions it trained -------------

learning_cycles = sa.Table(
    "learning_cycles",
    metadata,
    sa.Column("cycle_id", sa.String(36), primary_key=True),
    _when("start_time", nullable=False),
    _when("end_time"),
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
    _when("created_at", nullable=False),
    sa.Index("ix_learning_insights_created_at", "created_at"),
    sa.Index("ix_learning_insights_insight_type_created_at", "insight_type", "created_at"),
)

learning_models = sa.Table(
    "learning_models",
    metadata,
    sa.Column("version", sa.String(60), primary_key=True),
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
    sa.Index("ix_learning_models_trained_at", "trained_at"),
)

# -- custody protocol: graded tests, each agent's standing, and improvement proposals ------

custody_results = sa.Table(
    "custody_results",
    metadata,
    sa.Column("result_id", sa.String(36), primary_key=True),
    sa.Column("agent_id", sa.String(100), nullable=False),
    sa.Column("test_id", sa.String(100), nullable=False),
    sa.Column("test_version", sa.Integer(), nullable=False),
    sa.Column("category", sa.String(40), nullable=False),
    sa.Column("difficulty", sa.String(20), nullable=False),
    sa.Column("task_id", sa.String(36), nullable=True),
    sa.Column("answer", NullableJSON, nullable=True),
    sa.Column("score", sa.Float(), nullable=False),
    sa.Column("passed", sa.Boolean(), nullable=False),
    sa.Column("threshold", sa.Float(), nullable=False),
    sa.Column("grader_output", sa.JSON(), nullable=False),
    sa.Column("duration", sa.Float(), nullable=False),
    sa.Column("xp_awarded", sa.Integer(), nullable=False),
    _when("created_at", nullable=False),
    sa.Index("ix_custody_results_agent_id_created_at", "agent_id", "created_at"),
)

custody_state = sa.Table(
    "custody_state",
    metadata,
    sa.Column("agent_id", sa.String(100), primary_key=True),
    sa.Column("xp", sa.Integer(), nullable=False),
    sa.Column("level", sa.Integer(), nullable=False),
    sa.Column("tests", sa.Integer(), nullable=False),
    sa.Column("passed", sa.Integer(), nullable=False),
    sa.Column("consecutive_successes", sa.Integer(), nullable=False),
    sa.Column("consecutive_failures", sa.Integer(), nullable=False),
    # outcomes of the last tests (booleans), oldest first
    sa.Column("recent", sa.JSON(), nullable=False),
    _when("last_test_at"),
    _when("updated_at", nullable=False),
)

# Statuses a duplicate proposal is checked against (domain/proposals.py ``LIVE``), written
# out literally for the partial unique index.
LIVE_PROPOSAL_SQL = "status IN ('pending', 'approved', 'applied')"

proposals = sa.Table(
    "proposals",
    metadata,
    sa.Column("proposal_id", sa.String(36), primary_key=True),
    sa.Column("agent_id", sa.String(100), nullable=False),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("description", sa.Text(), nullable=False),
    sa.Column("diff", sa.Text(), nullable=True),
    sa.Column("action", NullableJSON, nullable=True),
    sa.Column("evidence", sa.JSON(), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    _when("created_at", nullable=False),
    sa.Column("decided_by", sa.String(100), nullable=True),
    _when("decided_at"),
    sa.Column("decision_note", sa.Text(), nullable=True),
    sa.Column("applied_by", sa.String(100), nullable=True),
    _when("applied_at"),
    sa.Index("ix_proposals_status_created_at", "status", "created_at"),
    # two identical live proposals cannot both land, even when submitted at once
    sa.Index(
        "ix_proposals_live_fingerprint",
        "fingerprint",
        unique=True,
        sqlite_where=sa.text(LIVE_PROPOSAL_SQL),
        postgresql_where=sa.text(LIVE_PROPOSAL_SQL),
    ),
)

# -- team tasks: one task given to k agents at once (domain/teams.py) -----------------------
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
    _when("created_at", nullable=False),
    _when("finished_at"),
    sa.Column("member_states", sa.JSON(), nullable=False),
    sa.Column("results", sa.JSON(), nullable=False),
    sa.Index("ix_team_runs_state_created_at", "state", "created_at"),
    sa.Index("ix_team_runs_task_type_created_at", "task_type", "created_at"),
)

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
    _when("created_at", nullable=False),
    sa.Index("ix_task_feedback_task_id", "task_id"),
    # replayed into the router at start, newest ratings first
    sa.Index("ix_task_feedback_created_at", "created_at"),
)

# -- alerts: rules (admin-defined) and every delivery attempt ---------------------------------

alert_rules = sa.Table(
    "alert_rules",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("spec", sa.JSON(), nullable=False),  # event types, targets, cooldown, queue wait
    _when("created_at", nullable=False),
)

alert_deliveries = sa.Table(
    "alert_deliveries",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("rule_id", sa.String(40), nullable=False),
    sa.Column("target", sa.String(500), nullable=False),
    sa.Column("event_type", sa.String(100), nullable=False),
    sa.Column("subject", sa.String(200), nullable=False),
    sa.Column("attempt", sa.Integer(), nullable=False),
    sa.Column("status_code", sa.Integer(), nullable=True),
    sa.Column("error", sa.Text(), nullable=True),
    sa.Column("delivered", sa.Boolean(), nullable=False),
    _when("created_at", nullable=False),
    sa.Index("ix_alert_deliveries_created_at", "created_at"),
)

# -- market data, texts and trained models (crypto prediction, fraud detection) ---------------

market_candles = sa.Table(
    "market_candles",
    metadata,
    sa.Column("symbol", sa.String(30), primary_key=True),
    sa.Column("timeframe", sa.String(8), primary_key=True),
    sa.Column("ts", sa.Double(), primary_key=True),  # the candle's opening time
    sa.Column("open", sa.Double(), nullable=False),
    sa.Column("high", sa.Double(), nullable=False),
    sa.Column("low", sa.Double(), nullable=False),
    sa.Column("close", sa.Double(), nullable=False),
    sa.Column("volume", sa.Double(), nullable=False),
)

market_texts = sa.Table(
    "market_texts",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("symbol", sa.String(30), nullable=False),
    sa.Column("text", sa.Text(), nullable=False),
    sa.Column("source", sa.String(200), nullable=False),
    _when("created_at", nullable=False),
    sa.Index("ix_market_texts_symbol", "symbol", "created_at"),
)

ml_models = sa.Table(
    "ml_models",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(100), nullable=False),  # fraud, crypto:BTC:1d
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("algorithm", sa.String(100), nullable=False),
    _when("created_at", nullable=False),
    sa.Column("metrics", sa.JSON(), nullable=False),
    sa.Column("data_summary", sa.JSON(), nullable=False),
    sa.Column("current", sa.Boolean(), nullable=False),
    sa.Column("artefact", sa.LargeBinary(), nullable=True),
    sa.UniqueConstraint("name", "version", name="uq_ml_models_name_version"),
)


# The knowledge base (issue 17). Documents keep the seeds' table name. Full-text search
# lives outside this metadata, per dialect (migration 0019): on SQLite the FTS5 table
# ``knowledge_fts`` (external content, kept by triggers), on PostgreSQL the GIN index
# ``ix_internet_learning_results_search`` over ``KNOWLEDGE_TSVECTOR``.
KNOWLEDGE_TSVECTOR = (
    "setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('english'::regconfig, coalesce(text, '')), 'B')"
)
KNOWLEDGE_SEARCH_OBJECTS = frozenset(
    {"knowledge_fts", "knowledge_fts_data", "knowledge_fts_idx", "knowledge_fts_docsize",
     "knowledge_fts_config", "ix_internet_learning_results_search"}
)  # fmt: skip
"""Search objects a migration makes that these tables do not describe."""

internet_learning_results = sa.Table(
    "internet_learning_results",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("url", sa.String(2000), nullable=False),
    sa.Column("source_id", sa.String(100), nullable=False),
    sa.Column("topic", sa.String(200), nullable=True),
    sa.Column("title", sa.Text(), nullable=False),
    sa.Column("author", sa.String(300), nullable=True),
    _when("published_at"),
    _when("fetched_at", nullable=False),
    sa.Column("text", sa.Text(), nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("signature", sa.JSON(), nullable=False),
    sa.Column("relevance", sa.Float(), nullable=False),
    sa.Column("novelty", sa.Float(), nullable=False),
    sa.Column("learning_value", sa.Float(), nullable=False),
    sa.Column("duplicates", sa.Integer(), nullable=False),
    sa.UniqueConstraint("url", name="uq_internet_learning_results_url"),
    sa.Index("ix_internet_learning_results_content_hash", "content_hash"),
    sa.Index("ix_internet_learning_results_fetched_at", "fetched_at"),
)

knowledge_sources = sa.Table(
    "knowledge_sources",
    metadata,
    sa.Column("id", sa.String(100), primary_key=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("url", sa.String(2000), nullable=False),
    sa.Column("trust", sa.Float(), nullable=False),
    sa.Column("enabled", sa.Boolean(), nullable=False),
    sa.Column("allowed_domains", sa.JSON(), nullable=False),
    sa.Column("daily_quota", sa.Integer(), nullable=True),
    sa.Column("min_interval", sa.Float(), nullable=False),
    sa.Column("params", sa.JSON(), nullable=False),
    _when("created_at", nullable=False),
    sa.Column("state", NullableJSON, nullable=True),  # ETag, quota spent, backoff, last error
)

knowledge_topics = sa.Table(
    "knowledge_topics",
    metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("agent_id", sa.String(100), primary_key=True),  # '' for a global topic
    _when("created_at", nullable=False),
)

knowledge_ingests = sa.Table(
    "knowledge_ingests",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("source_id", sa.String(100), nullable=False),
    _when("started_at", nullable=False),
    _when("finished_at", nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("fetched", sa.Integer(), nullable=False),
    sa.Column("stored", sa.Integer(), nullable=False),
    sa.Column("merged", sa.Integer(), nullable=False),
    sa.Column("error", sa.Text(), nullable=True),
    sa.Index("ix_knowledge_ingests_finished_at", "finished_at"),
)

knowledge_uses = sa.Table(
    "knowledge_uses",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("task_id", sa.String(36), nullable=False),
    sa.Column("attempt", sa.Integer(), nullable=False),
    sa.Column("agent_id", sa.String(100), nullable=True),
    sa.Column("task_type", sa.String(200), nullable=True),
    sa.Column("query", sa.Text(), nullable=False),
    sa.Column("document_ids", sa.JSON(), nullable=False),
    _when("used_at", nullable=False),
    sa.Index("ix_knowledge_uses_task_id", "task_id", "attempt"),
)

# The result cache (adapters/storage/result_cache.py): one row per stored result, keyed by
# the sha256 of (task type, canonical payload, agent config version); counters per type.
result_cache_entries = sa.Table(
    "result_cache_entries",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("task_type", sa.String(200), nullable=False),
    sa.Column("agent_id", sa.String(100), nullable=True),
    sa.Column("config_version", sa.String(32), nullable=False),
    sa.Column("result", NullableJSON, nullable=True),
    sa.Column("tokens", sa.Integer(), nullable=True),
    sa.Column("cost", sa.Float(), nullable=True),
    _when("created_at", nullable=False),
    _when("expires_at", nullable=False),
    sa.Index("ix_result_cache_entries_expires_at", "expires_at"),
    sa.Index("ix_result_cache_entries_created_at", "created_at"),
)

result_cache_stats = sa.Table(
    "result_cache_stats",
    metadata,
    sa.Column("task_type", sa.String(200), primary_key=True),
    sa.Column("hits", sa.BigInteger(), nullable=False),
    sa.Column("misses", sa.BigInteger(), nullable=False),
    sa.Column("tokens_saved", sa.BigInteger(), nullable=False),
    sa.Column("cost_saved", sa.Float(), nullable=False),
    _when("updated_at", nullable=False),
)
