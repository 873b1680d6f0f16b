"""The knowledge base: documents (``internet_learning_results``) with full-text search,
trusted sources, topics, the ingestion log and the documents each attempt used.

Search per dialect: SQLite an FTS5 table over the documents (external content, kept by
triggers); PostgreSQL a GIN index over a weighted ``tsvector`` expression (title A, text B).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TSVECTOR = (
    "setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('english'::regconfig, coalesce(text, '')), 'B')"
)
SQLITE_FTS = (
    "CREATE VIRTUAL TABLE knowledge_fts USING fts5(title, text, "
    "content='internet_learning_results', content_rowid='id', tokenize='porter unicode61')",
    "CREATE TRIGGER knowledge_fts_insert AFTER INSERT ON internet_learning_results BEGIN "
    "INSERT INTO knowledge_fts(rowid, title, text) VALUES (new.id, new.title, new.text); END",
    "CREATE TRIGGER knowledge_fts_delete AFTER DELETE ON internet_learning_results BEGIN "
    "INSERT INTO knowledge_fts(knowledge_fts, rowid, title, text) "
    "VALUES ('delete', old.id, old.title, old.text); END",
    "CREATE TRIGGER knowledge_fts_update AFTER UPDATE ON internet_learning_results BEGIN "
    "INSERT INTO knowledge_fts(knowledge_fts, rowid, title, text) "
    "VALUES ('delete', old.id, old.title, old.text); "
    "INSERT INTO knowledge_fts(rowid, title, text) VALUES (new.id, new.title, new.text); END",
)


def upgrade() -> None:
    op.create_table(
        "internet_learning_results",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("source_id", sa.String(100), nullable=False),
        sa.Column("topic", sa.String(200), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("author", sa.String(300), nullable=True),
        sa.Column("published_at", sa.Double(), nullable=True),
        sa.Column("fetched_at", sa.Double(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("signature", sa.JSON(), nullable=False),
        sa.Column("relevance", sa.Float(), nullable=False),
        sa.Column("novelty", sa.Float(), nullable=False),
        sa.Column("learning_value", sa.Float(), nullable=False),
        sa.Column("duplicates", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_internet_learning_results"),
        sa.UniqueConstraint("url", name="uq_internet_learning_results_url"),
    )
    op.create_index(
        "ix_internet_learning_results_content_hash", "internet_learning_results", ["content_hash"]
    )
    op.create_index(
        "ix_internet_learning_results_fetched_at", "internet_learning_results", ["fetched_at"]
    )
    op.create_table(
        "knowledge_sources",
        sa.Column("id", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("trust", sa.Float(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("allowed_domains", sa.JSON(), nullable=False),
        sa.Column("daily_quota", sa.Integer(), nullable=True),
        sa.Column("min_interval", sa.Float(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("state", sa.JSON(none_as_null=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_knowledge_sources"),
    )
    op.create_table(
        "knowledge_topics",
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("agent_id", sa.String(100), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("name", "agent_id", name="pk_knowledge_topics"),
    )
    op.create_table(
        "knowledge_ingests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source_id", sa.String(100), nullable=False),
        sa.Column("started_at", sa.Double(), nullable=False),
        sa.Column("finished_at", sa.Double(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("fetched", sa.Integer(), nullable=False),
        sa.Column("stored", sa.Integer(), nullable=False),
        sa.Column("merged", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_knowledge_ingests"),
    )
    op.create_index("ix_knowledge_ingests_finished_at", "knowledge_ingests", ["finished_at"])
    op.create_table(
        "knowledge_uses",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("task_id", sa.String(36), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.String(100), nullable=True),
        sa.Column("task_type", sa.String(200), nullable=True),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("document_ids", sa.JSON(), nullable=False),
        sa.Column("used_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_knowledge_uses"),
    )
    op.create_index("ix_knowledge_uses_task_id", "knowledge_uses", ["task_id", "attempt"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE INDEX ix_internet_learning_results_search ON internet_learning_results "
            f"USING gin (({TSVECTOR}))"
        )
    else:
        for statement in SQLITE_FTS:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_internet_learning_results_search")
    else:
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER knowledge_fts_{name}")
        op.execute("DROP TABLE knowledge_fts")
    op.drop_index("ix_knowledge_uses_task_id", table_name="knowledge_uses")
    op.drop_table("knowledge_uses")
    op.drop_index("ix_knowledge_ingests_finished_at", table_name="knowledge_ingests")
    op.drop_table("knowledge_ingests")
    op.drop_table("knowledge_topics")
    op.drop_table("knowledge_sources")
    op.drop_index("ix_internet_learning_results_fetched_at", table_name="internet_learning_results")
    op.drop_index(
        "ix_internet_learning_results_content_hash", table_name="internet_learning_results"
    )
    op.drop_table("internet_learning_results")
