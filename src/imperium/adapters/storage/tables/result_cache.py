"""The result cache (adapters/storage/result_cache.py): one row per stored result, keyed by
the sha256 of (task type, canonical payload, agent config version); counters per type."""

from __future__ import annotations

import sqlalchemy as sa

from imperium.adapters.storage.tables._base import NullableJSON, metadata, when

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
    when("created_at", nullable=False),
    when("expires_at", nullable=False),
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
    when("updated_at", nullable=False),
)
