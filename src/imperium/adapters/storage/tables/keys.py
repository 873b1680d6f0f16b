"""API keys: each key's role and a digest of its secret (never the secret)."""

from __future__ import annotations

import sqlalchemy as sa

from imperium.adapters.storage.tables._base import metadata, when

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.String(12), primary_key=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("agent_id", sa.String(100), nullable=True),
    sa.Column("secret_hash", sa.String(64), nullable=False),
    when("created_at", nullable=False),
    when("revoked_at"),
    sa.Column("capabilities", sa.JSON(), nullable=True),  # agent keys: allowed capabilities
)
