"""``SqlAlertStore``: alert rules (``alert_rules``) and delivery attempts
(``alert_deliveries``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from imperium.adapters.storage.database import SqlArea
from imperium.adapters.storage.tables import alert_deliveries, alert_rules
from imperium.domain.alerts import AlertRule, AlertTarget, DeliveryAttempt, TargetKind


class SqlAlertStore(SqlArea):
    async def save_rule(self, rule: AlertRule) -> None:
        row = {"id": rule.id, "name": rule.name, "spec": rule_spec(rule),
               "created_at": rule.created_at}  # fmt: skip
        async with self._db.transaction() as conn:
            await conn.execute(sa.delete(alert_rules).where(alert_rules.c.id == rule.id))
            await conn.execute(sa.insert(alert_rules), [row])

    async def get_rule(self, rule_id: str) -> AlertRule | None:
        rows = await self._db.fetch(sa.select(alert_rules).where(alert_rules.c.id == rule_id))
        return _rule(rows[0]) if rows else None

    async def list_rules(self) -> list[AlertRule]:
        query = sa.select(alert_rules).order_by(alert_rules.c.created_at, alert_rules.c.id)
        return [_rule(row) for row in await self._db.fetch(query)]

    async def delete_rule(self, rule_id: str) -> bool:
        async with self._db.transaction() as conn:
            deleted = await conn.execute(sa.delete(alert_rules).where(alert_rules.c.id == rule_id))
            return deleted.rowcount == 1

    async def record_attempts(self, attempts: Sequence[DeliveryAttempt]) -> None:
        rows = [{**dataclasses.asdict(a), "created_at": a.at} for a in attempts]
        for row in rows:
            del row["at"]
        async with self._db.transaction() as conn:
            await conn.execute(sa.insert(alert_deliveries), rows)

    async def list_attempts(
        self, *, rule_id: str | None = None, limit: int = 100
    ) -> list[DeliveryAttempt]:
        t = alert_deliveries
        query = sa.select(t).order_by(t.c.created_at.desc(), t.c.id.desc()).limit(limit)
        if rule_id is not None:
            query = query.where(t.c.rule_id == rule_id)
        return [_attempt(row) for row in await self._db.fetch(query)]


def rule_spec(rule: AlertRule) -> dict[str, Any]:
    return {
        "event_types": list(rule.event_types),
        "targets": [
            {"kind": t.kind.value, "address": t.address, "secret": t.secret} for t in rule.targets
        ],
        "cooldown_seconds": rule.cooldown_seconds,
        "queue_wait_seconds": rule.queue_wait_seconds,
        "enabled": rule.enabled,
    }


def _rule(row: Any) -> AlertRule:
    spec = row.spec
    targets = tuple(
        AlertTarget(TargetKind(t["kind"]), t["address"], t.get("secret")) for t in spec["targets"]
    )
    return AlertRule(
        id=row.id,
        name=row.name,
        event_types=tuple(spec["event_types"]),
        targets=targets,
        created_at=row.created_at,
        cooldown_seconds=spec["cooldown_seconds"],
        queue_wait_seconds=spec.get("queue_wait_seconds"),
        enabled=spec.get("enabled", True),
    )


def _attempt(row: Any) -> DeliveryAttempt:
    return DeliveryAttempt(
        rule_id=row.rule_id, target=row.target, event_type=row.event_type,
        subject=row.subject, attempt=row.attempt, at=row.created_at,
        status_code=row.status_code, error=row.error, delivered=bool(row.delivered),
    )  # fmt: skip
