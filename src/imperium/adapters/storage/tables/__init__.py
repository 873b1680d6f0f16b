"""The schema, as SQLAlchemy Core tables (Core, not ORM: the scheduler writes thousands of
rows per second through executemany batches).

Migrations in ``migrations/versions`` create exactly these tables; a test compares the two.
Indexes are kept to what a query needs, since each one costs write throughput.
Timestamps are epoch seconds (UTC) in double-precision columns, as in the domain: no
conversion on the hot path. In SQL, ``to_timestamp(created_at)`` (PostgreSQL) or
``datetime(created_at, 'unixepoch')`` (SQLite) shows them as times.

Each area's tables are in a module of their own, all on the one ``metadata`` of ``_base``:
``core`` (agents, tasks, attempts, events, the scheduler's lock), ``keys``, ``cycles``,
``custody`` (with proposals), ``teams``, ``feedback``, ``alerts``, ``markets``,
``knowledge`` and ``result_cache``. Import the tables from this package, not the modules.
"""

from __future__ import annotations

# The areas are imported in the order their migrations added them, which is the order the
# tables join ``metadata`` (``metadata.tables``, and so ``create_all``'s statements): keep it.
# isort: off
from imperium.adapters.storage.tables._base import NAMING_CONVENTION, BigId, NullableJSON, metadata
from imperium.adapters.storage.tables.core import (
    ACTIVE_STATE_NAMES,
    ACTIVE_STATE_SQL,
    AGENT_LOAD_EVENT_SQL,
    CANCEL_REQUESTED_SQL,
    DEAD_TASK_EVENT_SQL,
    LEARNING_EVENT_SQL,
    SCHEDULER_LOCK_NAME,
    SUBMITTED_SQL,
    UNFINISHED_SQL,
    WORKFLOW_SQL,
    agent_metrics,
    agent_task_executions,
    learning_logs,
    scheduler_lock,
    tasks,
)
from imperium.adapters.storage.tables.keys import api_keys
from imperium.adapters.storage.tables.cycles import (
    learning_cycles,
    learning_insights,
    learning_models,
)
from imperium.adapters.storage.tables.custody import (
    LIVE_PROPOSAL_SQL,
    custody_results,
    custody_state,
    proposals,
)
from imperium.adapters.storage.tables.teams import team_runs
from imperium.adapters.storage.tables.feedback import task_feedback
from imperium.adapters.storage.tables.alerts import alert_deliveries, alert_rules
from imperium.adapters.storage.tables.markets import market_candles, market_texts, ml_models
from imperium.adapters.storage.tables.knowledge import (
    KNOWLEDGE_SEARCH_OBJECTS,
    KNOWLEDGE_TSVECTOR,
    internet_learning_results,
    knowledge_ingests,
    knowledge_sources,
    knowledge_topics,
    knowledge_uses,
)
from imperium.adapters.storage.tables.result_cache import result_cache_entries, result_cache_stats

# isort: on

__all__ = [
    "ACTIVE_STATE_NAMES",
    "ACTIVE_STATE_SQL",
    "AGENT_LOAD_EVENT_SQL",
    "CANCEL_REQUESTED_SQL",
    "DEAD_TASK_EVENT_SQL",
    "KNOWLEDGE_SEARCH_OBJECTS",
    "KNOWLEDGE_TSVECTOR",
    "LEARNING_EVENT_SQL",
    "LIVE_PROPOSAL_SQL",
    "NAMING_CONVENTION",
    "SCHEDULER_LOCK_NAME",
    "SUBMITTED_SQL",
    "UNFINISHED_SQL",
    "WORKFLOW_SQL",
    "BigId",
    "NullableJSON",
    "agent_metrics",
    "agent_task_executions",
    "alert_deliveries",
    "alert_rules",
    "api_keys",
    "custody_results",
    "custody_state",
    "internet_learning_results",
    "knowledge_ingests",
    "knowledge_sources",
    "knowledge_topics",
    "knowledge_uses",
    "learning_cycles",
    "learning_insights",
    "learning_logs",
    "learning_models",
    "market_candles",
    "market_texts",
    "metadata",
    "ml_models",
    "proposals",
    "result_cache_entries",
    "result_cache_stats",
    "scheduler_lock",
    "task_feedback",
    "tasks",
    "team_runs",
]
