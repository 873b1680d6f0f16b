"""The custody protocol (graded test results, each agent's standing) and improvement
proposals, with a partial unique index so that two identical live proposals cannot both
be stored.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE_PROPOSAL_SQL = "status IN ('pending', 'approved', 'applied')"


def _when(name: str, *, nullable: bool = True) -> sa.Column[float]:
    return sa.Column(name, sa.Double(), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "custody_results",
        sa.Column("result_id", sa.String(36), nullable=False),
        sa.Column("agent_id", sa.String(100), nullable=False),
        sa.Column("test_id", sa.String(100), nullable=False),
        sa.Column("test_version", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(40), nullable=False),
        sa.Column("difficulty", sa.String(20), nullable=False),
        sa.Column("task_id", sa.String(36), nullable=True),
        sa.Column("answer", sa.JSON(), nullable=True),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("grader_output", sa.JSON(), nullable=False),
        sa.Column("duration", sa.Float(), nullable=False),
        sa.Column("xp_awarded", sa.Integer(), nullable=False),
        _when("created_at", nullable=False),
        sa.PrimaryKeyConstraint("result_id", name="pk_custody_results"),
    )
    op.create_index(
        "ix_custody_results_agent_id_created_at", "custody_results", ["agent_id", "created_at"]
    )

    op.create_table(
        "custody_state",
        sa.Column("agent_id", sa.String(100), nullable=False),
        sa.Column("xp", sa.Integer(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("tests", sa.Integer(), nullable=False),
        sa.Column("passed", sa.Integer(), nullable=False),
        sa.Column("consecutive_successes", sa.Integer(), nullable=False),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("recent", sa.JSON(), nullable=False),
        _when("last_test_at"),
        _when("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("agent_id", name="pk_custody_state"),
    )

    op.create_table(
        "proposals",
        sa.Column("proposal_id", sa.String(36), nullable=False),
        sa.Column("agent_id", sa.String(100), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("diff", sa.Text(), nullable=True),
        sa.Column("action", sa.JSON(), nullable=True),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        _when("created_at", nullable=False),
        sa.Column("decided_by", sa.String(100), nullable=True),
        _when("decided_at"),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("applied_by", sa.String(100), nullable=True),
        _when("applied_at"),
        sa.PrimaryKeyConstraint("proposal_id", name="pk_proposals"),
    )
    op.create_index("ix_proposals_status_created_at", "proposals", ["status", "created_at"])
    op.create_index(
        "ix_proposals_live_fingerprint",
        "proposals",
        ["fingerprint"],
        unique=True,
        sqlite_where=sa.text(LIVE_PROPOSAL_SQL),
        postgresql_where=sa.text(LIVE_PROPOSAL_SQL),
    )


def downgrade() -> None:
    op.drop_index("ix_proposals_live_fingerprint", table_name="proposals")
    op.drop_index("ix_proposals_status_created_at", table_name="proposals")
    op.drop_table("proposals")
    op.drop_table("custody_state")
    op.drop_index("ix_custody_results_agent_id_created_at", table_name="custody_results")
    op.drop_table("custody_results")
