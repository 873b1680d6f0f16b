"""Alerts: rules (admin-defined) and every delivery attempt."""

from __future__ import annotations

import sqlalchemy as sa

from imperium.adapters.storage.tables._base import metadata, when

alert_rules = sa.Table(
    "alert_rules",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("spec", sa.JSON(), nullable=False),  # event types, targets, cooldown, queue wait
    when("created_at", nullable=False),
)

alert_deliveries = sa.Table(
    "alert_deliveries",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("rule_id", sa.String(40), nullable=False),
    sa.Column("target", sa.String(500), nullable=False),
    sa.Column("event_type", sa.String(100), nullable=False),
    sa.Column("subject", sa.String(200), nullable=False),
    sa.Column("attempt", sa.Integer(), nullable=False),
    sa.Column("status_code", sa.Integer(), nullable=True),
    sa.Column("error", sa.Text(), nullable=True),
    sa.Column("delivered", sa.Boolean(), nullable=False),
    when("created_at", nullable=False),
    sa.Index("ix_alert_deliveries_created_at", "created_at"),
)
