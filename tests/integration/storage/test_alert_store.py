"""The alert store on memory, SQLite and PostgreSQL: rules and delivery attempts."""

from __future__ import annotations

from imperium.adapters.storage.alerts import SqlAlertStore
from imperium.adapters.storage.memory.alerts import MemoryAlertStore
from imperium.adapters.storage.sql import SqlStore
from imperium.domain.alerts import AlertRule, AlertTarget, DeliveryAttempt, TargetKind
from imperium.ports import Store


def alert_store(store: Store) -> SqlAlertStore | MemoryAlertStore:
    return SqlAlertStore(store.database) if isinstance(store, SqlStore) else MemoryAlertStore()


async def test_rules_round_trip_and_delete(store: Store) -> None:
    alerts = alert_store(store)
    rule = AlertRule(
        "r1", "dead tasks", ("task.dead", "agent.*"),
        (AlertTarget(TargetKind.WEBHOOK, "http://x/hook", "s3cret"),
         AlertTarget(TargetKind.EMAIL, "ops@example.org")),
        created_at=10.0, cooldown_seconds=60.0, queue_wait_seconds=30.0,
    )  # fmt: skip
    await alerts.save_rule(rule)
    assert await alerts.get_rule("r1") == rule
    changed = AlertRule("r1", "renamed", ("task.dead",), rule.targets, created_at=10.0)
    await alerts.save_rule(changed)
    assert await alerts.list_rules() == [changed]
    assert await alerts.delete_rule("r1") is True
    assert await alerts.delete_rule("r1") is False
    assert await alerts.list_rules() == []


async def test_attempts_newest_first_and_by_rule(store: Store) -> None:
    alerts = alert_store(store)
    first = DeliveryAttempt("r1", "webhook:http://x", "task.dead", "task:t1", 1, 5.0,
                            status_code=500)  # fmt: skip
    second = DeliveryAttempt("r1", "webhook:http://x", "task.dead", "task:t1", 2, 6.0,
                             status_code=200, delivered=True)  # fmt: skip
    other = DeliveryAttempt("r2", "email:a@b", "agent.offline", "agent:a", 1, 7.0,
                            error="ConnectionRefusedError")  # fmt: skip
    await alerts.record_attempts([first, second])
    await alerts.record_attempts([other])
    assert await alerts.list_attempts() == [other, second, first]
    assert await alerts.list_attempts(rule_id="r1", limit=1) == [second]
