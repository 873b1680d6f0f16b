"""The queue-wait alert routine: the oldest ready task's wait against each rule's limit;
and a runtime that starts and stops its alerts cleanly."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from imperium.adapters.storage.memory import MemoryStore
from imperium.adapters.storage.memory.alerts import MemoryAlertStore
from imperium.domain.alerts import Alert, AlertTarget, TargetKind
from imperium.domain.models import Task
from imperium.runtime import Imperium, SystemClock, alert_senders
from imperium.services.notifications.ports import SendResult
from imperium.services.notifications.queue_wait import oldest_ready_at, queue_wait_routine
from imperium.services.notifications.service import AlertService
from imperium.settings import Settings


class Clock:
    def __init__(self, at: float) -> None:
        self.at = at

    def now(self) -> float:
        return self.at

    def monotonic(self) -> float:
        return self.at


class Sent:
    def __init__(self) -> None:
        self.alerts: list[Alert] = []

    async def send(self, target: AlertTarget, alert: Alert) -> SendResult:
        self.alerts.append(alert)
        return SendResult(True, status_code=200)


def task(created_at: float, ready_at: float | None) -> Task:
    return Task(id=f"t{created_at}", type="echo", created_at=created_at, ready_at=ready_at)


@pytest.mark.parametrize(
    ("tasks", "oldest"),
    [([], None), ([task(5, None)], 5), ([task(1, 50), task(2, 40), task(3, None)], 3)],
)
def test_the_oldest_ready_time(tasks: list[Task], oldest: float | None) -> None:
    assert oldest_ready_at(tasks) == oldest


@pytest.mark.parametrize(("now", "raised"), [(130.0, 0), (131.0, 1)])
async def test_the_routine_alerts_only_past_the_limit(now: float, raised: int) -> None:
    sent, clock = Sent(), Clock(now)
    alerts = AlertService(MemoryAlertStore(), {TargetKind.WEBHOOK: sent}, clock)
    target = AlertTarget(TargetKind.WEBHOOK, "http://x/hook")
    await alerts.create_rule(
        name="slow", event_types=("queue.wait",), targets=(target,), queue_wait_seconds=30
    )
    routine = queue_wait_routine(alerts, lambda: [task(100.0, None)], 15.0)
    assert await routine.action() == {"status": "ok", "raised": raised}
    await alerts.drain()
    assert [a.data["waited_seconds"] for a in sent.alerts] == ([31.0] if raised else [])


async def test_without_a_queue_wait_rule_nothing_is_checked() -> None:
    alerts = AlertService(MemoryAlertStore(), {}, Clock(0.0))
    routine = queue_wait_routine(alerts, lambda: [task(0.0, None)], 15.0)
    assert (await routine.action())["raised"] == 0


async def test_closing_cancels_a_delivery_stuck_past_the_grace() -> None:
    answered = asyncio.Event()

    class Stuck:
        async def send(self, target: AlertTarget, alert: Alert) -> SendResult:
            await asyncio.Event().wait()  # a receiver that never answers
            answered.set()
            return SendResult(True)

    store = MemoryAlertStore()
    alerts = AlertService(store, {TargetKind.WEBHOOK: Stuck()}, Clock(0.0))
    rule = await alerts.create_rule(
        name="r", event_types=("*",), targets=(AlertTarget(TargetKind.WEBHOOK, "http://x"),)
    )
    assert alerts.raise_alert(rule, "x.y", "x", {}) is True
    await alerts.close(grace=0.05)
    assert not answered.is_set()
    assert store.attempts == []


async def test_a_runtime_runs_the_queue_wait_routine(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'unused.db'}",
                        builtin_agents="none", alert_queue_interval=5)  # fmt: skip
    im = Imperium.build(settings, MemoryStore())
    await im.start()
    assert im.routines is not None
    assert im.routines.routines["alert_queue_wait"].interval == 5
    await im.close()


def test_email_is_sent_only_with_an_smtp_server_configured() -> None:
    assert TargetKind.EMAIL not in alert_senders(Settings(), SystemClock())
    configured = Settings(smtp_host="mail.example.org", smtp_security="ssl", smtp_port=465)
    assert set(alert_senders(configured, SystemClock())) == set(TargetKind)
    with pytest.raises(ValueError, match="smtp_security"):
        Settings(smtp_security="tls")
