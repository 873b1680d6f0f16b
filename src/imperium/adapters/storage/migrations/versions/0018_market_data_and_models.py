"""Market candles per symbol and timeframe (``market_candles``), texts for sentiment
(``market_texts``) and versioned machine-learning models with their evaluation
(``ml_models``): crypto prediction and fraud detection.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "market_candles",
        sa.Column("symbol", sa.String(30), nullable=False),
        sa.Column("timeframe", sa.String(8), nullable=False),
        sa.Column("ts", sa.Double(), nullable=False),
        sa.Column("open", sa.Double(), nullable=False),
        sa.Column("high", sa.Double(), nullable=False),
        sa.Column("low", sa.Double(), nullable=False),
        sa.Column("close", sa.Double(), nullable=False),
        sa.Column("volume", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("symbol", "timeframe", "ts", name="pk_market_candles"),
    )
    op.create_table(
        "market_texts",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("symbol", sa.String(30), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_market_texts"),
    )
    op.create_index("ix_market_texts_symbol", "market_texts", ["symbol", "created_at"])
    op.create_table(
        "ml_models",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("algorithm", sa.String(100), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("data_summary", sa.JSON(), nullable=False),
        sa.Column("current", sa.Boolean(), nullable=False),
        sa.Column("artefact", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_ml_models"),
        sa.UniqueConstraint("name", "version", name="uq_ml_models_name_version"),
    )


def downgrade() -> None:
    op.drop_table("ml_models")
    op.drop_index("ix_market_texts_symbol", table_name="market_texts")
    op.drop_table("market_texts")
    op.drop_table("market_candles")
