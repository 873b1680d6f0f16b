"""The knowledge base (issue 17): documents, their sources and topics, each ingest, and each
use of documents by a task.

Documents keep the seeds' table name. Full-text search lives outside this metadata, per
dialect (migration 0019): on SQLite the FTS5 table ``knowledge_fts`` (external content, kept
by triggers), on PostgreSQL the GIN index ``ix_internet_learning_results_search`` over
``KNOWLEDGE_TSVECTOR``.
"""

from __future__ import annotations

import sqlalchemy as sa

from imperium.adapters.storage.tables._base import NullableJSON, metadata, when

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
    when("published_at"),
    when("fetched_at", nullable=False),
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
    when("created_at", nullable=False),
    sa.Column("state", NullableJSON, nullable=True),  # ETag, quota spent, backoff, last error
)

knowledge_topics = sa.Table(
    "knowledge_topics",
    metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("agent_id", sa.String(100), primary_key=True),  # '' for a global topic
    when("created_at", nullable=False),
)

knowledge_ingests = sa.Table(
    "knowledge_ingests",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("source_id", sa.String(100), nullable=False),
    when("started_at", nullable=False),
    when("finished_at", nullable=False),
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
    when("used_at", nullable=False),
    sa.Index("ix_knowledge_uses_task_id", "task_id", "attempt"),
)
