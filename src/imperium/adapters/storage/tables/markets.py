"""Market data, texts and trained models (crypto prediction, fraud detection)."""

from __future__ import annotations

import sqlalchemy as sa

from imperium.adapters.storage.tables._base import metadata, when

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
    when("created_at", nullable=False),
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
    when("created_at", nullable=False),
    sa.Column("metrics", sa.JSON(), nullable=False),
    sa.Column("data_summary", sa.JSON(), nullable=False),
    sa.Column("current", sa.Boolean(), nullable=False),
    sa.Column("artefact", sa.LargeBinary(), nullable=True),
    sa.UniqueConstraint("name", "version", name="uq_ml_models_name_version"),
)
