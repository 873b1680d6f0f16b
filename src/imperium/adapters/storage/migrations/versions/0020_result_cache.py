"""The result cache: stored results with their expiry (``result_cache_entries``) and the
hit and miss counters per task type (``result_cache_stats``).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "result_cache_entries",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("task_type", sa.String(200), nullable=False),
        sa.Column("agent_id", sa.String(100), nullable=True),
        sa.Column("config_version", sa.String(32), nullable=False),
        sa.Column("result", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("tokens", sa.Integer(), nullable=True),
        sa.Column("cost", sa.Float(), nullable=True),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_result_cache_entries"),
    )
    op.create_index("ix_result_cache_entries_expires_at", "result_cache_entries", ["expires_at"])
    op.create_index("ix_result_cache_entries_created_at", "result_cache_entries", ["created_at"])
    op.create_table(
        "result_cache_stats",
        sa.Column("task_type", sa.String(200), nullable=False),
        sa.Column("hits", sa.BigInteger(), nullable=False),
        sa.Column("misses", sa.BigInteger(), nullable=False),
        sa.Column("tokens_saved", sa.BigInteger(), nullable=False),
        sa.Column("cost_saved", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("task_type", name="pk_result_cache_stats"),
    )


def downgrade() -> None:
    op.drop_table("result_cache_stats")
    op.drop_index("ix_result_cache_entries_created_at", table_name="result_cache_entries")
    op.drop_index("ix_result_cache_entries_expires_at", table_name="result_cache_entries")
    op.drop_table("result_cache_entries")
