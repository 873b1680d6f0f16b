"""Alerts under load and change: rules written by another process are picked up by a
reload, a burst beyond the bound on deliveries under way is dropped and recorded (not
lost silently), and the cooldown map forgets what it no longer needs."""

from __future__ import annotations

import asyncio

from imperium.adapters.storage.memory.alerts import MemoryAlertStore
from imperium.domain.alerts import Alert, AlertRule, AlertTarget, Cooldown, TargetKind
from imperium.domain.models import Event
from imperium.services.notifications.ports import SendResult
from imperium.services.notifications.queue_wait import reload_routine
from imperium.services.notifications.service import AlertService, DeliveryConfig

HOOK = AlertTarget(TargetKind.WEBHOOK, "http://x/hook")


class Clock:
    def __init__(self, at: float = 1000.0) -> None:
        self.at = at

    def now(self) -> float:
        return self.at

    def monotonic(self) -> float:
        return self.at


class Held:
    """A sender whose sends wait until released (deliveries stay under way)."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.started = 0
        self.sent: list[Alert] = []

    async def send(self, target: AlertTarget, alert: Alert) -> SendResult:
        self.started += 1
        await self.release.wait()
        self.sent.append(alert)
        return SendResult(True, status_code=200)


def rule(rule_id: str, name: str, cooldown: float = 300.0) -> AlertRule:
    return AlertRule(rule_id, name, ("task.dead",), (HOOK,), created_at=1.0,
                     cooldown_seconds=cooldown)  # fmt: skip


async def test_a_rule_saved_by_another_process_is_picked_up_by_the_reload() -> None:
    store, sender, clock = MemoryAlertStore(), Held(), Clock()
    sender.release.set()
    server = AlertService(store, {TargetKind.WEBHOOK: sender}, clock)
    await server.load()
    cli = AlertService(store, {TargetKind.WEBHOOK: sender}, clock)  # `imperium alerts`
    await cli.save_rule(rule("r1", "dead"))
    server.on_events([Event("task.dead", 1.0, "t1")])
    assert server.rules == ()  # not yet seen: nothing raised

    routine = reload_routine(server, interval=10.0)
    result = await routine.action()
    assert result["changed"] is True
    assert result["rules"] == 1
    assert (await routine.action())["changed"] is False  # nothing new: same rules kept
    server.on_events([Event("task.dead", 2.0, "t2")])
    await server.drain()
    assert [a.subject for a in sender.sent] == ["task:t2"]

    await cli.save_rule(rule("r1", "dead", cooldown=5.0))  # a change in place (PATCH)
    assert await server.reload() is True
    assert server.rules[0].cooldown_seconds == 5.0
    await cli.delete_rule("r1")
    assert await server.reload() is True
    assert server.rules == ()


async def test_a_burst_beyond_the_bound_is_dropped_and_recorded() -> None:
    store, sender = MemoryAlertStore(), Held()
    alerts = AlertService(store, {TargetKind.WEBHOOK: sender}, Clock(),
                          DeliveryConfig(max_deliveries=3))  # fmt: skip
    await alerts.save_rule(rule("r1", "dead"))
    alerts.on_events([Event("task.dead", 1.0, f"t{i}") for i in range(10)])
    await asyncio.sleep(0)  # the started deliveries reach their send
    assert sender.started == 3
    assert alerts.status()["under_way"] == 3
    assert alerts.dropped == 7
    sender.release.set()
    await alerts.drain()
    assert sorted(a.subject for a in sender.sent) == ["task:t0", "task:t1", "task:t2"]
    attempts = await store.list_attempts(limit=100)
    dropped = [a for a in attempts if a.attempt == 0]
    assert sorted(a.subject for a in dropped) == [f"task:t{i}" for i in range(3, 10)]
    assert all(not a.delivered and "dropped" in (a.error or "") for a in dropped)
    assert sum(a.delivered for a in attempts) == 3
    # room again once the burst has passed
    alerts.on_events([Event("task.dead", 2.0, "t99")])
    await alerts.drain()
    assert sender.sent[-1].subject == "task:t99"


def test_the_cooldown_map_is_pruned() -> None:
    cooldown = Cooldown(floor=4)
    short, long = rule("short", "s", cooldown=10.0), rule("long", "l", cooldown=1000.0)
    for i in range(3):
        assert cooldown.allow(short, f"task:{i}", now=0.0)
    assert cooldown.allow(long, "task:x", now=0.0)  # the 4th entry: a prune, nothing expired
    assert len(cooldown) == 4
    assert not cooldown.allow(short, "task:0", now=5.0)  # still cooling down
    assert cooldown.prune(now=20.0) == 3  # the short rule's entries have expired
    assert len(cooldown) == 1
    assert not cooldown.allow(long, "task:x", now=20.0)
    assert cooldown.prune(now=21.0, rules=[short]) == 1  # the long rule was deleted
    assert len(cooldown) == 0


def test_a_burst_of_subjects_does_not_grow_the_map_without_bound() -> None:
    cooldown = Cooldown(floor=100)
    quick = rule("q", "quick", cooldown=1.0)
    for i in range(10_000):
        cooldown.allow(quick, f"task:{i}", now=float(i))  # each expires a second later
    assert len(cooldown) <= 100


async def test_the_reload_prunes_the_cooldowns() -> None:
    store, clock = MemoryAlertStore(), Clock(0.0)
    sender = Held()
    sender.release.set()
    alerts = AlertService(store, {TargetKind.WEBHOOK: sender}, clock)
    await alerts.save_rule(rule("r1", "dead", cooldown=60.0))
    alerts.on_events([Event("task.dead", 0.0, f"t{i}") for i in range(5)])
    await alerts.drain()
    assert alerts.status()["cooldowns"] == 5
    clock.at = 61.0
    await alerts.reload()
    assert alerts.status()["cooldowns"] == 0
