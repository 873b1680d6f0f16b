"""The custody protocol: graded tests, each agent's standing, and improvement proposals."""

from __future__ import annotations

import sqlalchemy as sa

from imperium.adapters.storage.tables._base import NullableJSON, metadata, when

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
    when("created_at", nullable=False),
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
    when("last_test_at"),
    when("updated_at", nullable=False),
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
    when("created_at", nullable=False),
    sa.Column("decided_by", sa.String(100), nullable=True),
    when("decided_at"),
    sa.Column("decision_note", sa.Text(), nullable=True),
    sa.Column("applied_by", sa.String(100), nullable=True),
    when("applied_at"),
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
