"""The alert event types beyond task and agent states, each delivered by a rule to a local
HTTP receiver from a started runtime: ``agent.budget_spent`` (emitted by the model layer),
``agent.custody_level`` (custody's level changes), ``learning_cycle.failed`` and
``agent.drift`` (the router's drift alarm, recorded by the engine)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from imperium.adapters.storage.memory import MemoryStore
from imperium.domain.alerts import AlertTarget, TargetKind
from imperium.domain.models import Event, Execution
from imperium.domain.routing import DriftAlarm
from imperium.domain.specs import TaskSpec
from imperium.runtime import Imperium
from imperium.settings import Settings
from tests.integration.notify.test_delivery import Receiver


@pytest.fixture
def hook() -> Iterator[Receiver]:
    receiver = Receiver([])
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


@pytest.fixture
async def im(tmp_path: Path) -> AsyncIterator[Imperium]:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'unused.db'}", poll_interval=0.05,
                        drain_seconds=0.2, report_pdf_renderer="none")  # fmt: skip
    runtime = Imperium.build(settings, MemoryStore())
    await runtime.start()
    yield runtime
    await runtime.close()


async def rule_on(im: Imperium, event_type: str, hook: Receiver) -> str:
    rule = await im.alerts.create_rule(
        name=event_type, event_types=(event_type,),
        targets=(AlertTarget(TargetKind.WEBHOOK, hook.url),),
    )  # fmt: skip
    return rule.id


async def alerts_at(hook: Receiver, n: int = 1) -> list[dict[str, Any]]:
    async with asyncio.timeout(20):
        while True:  # the receiver runs in a thread: poll it
            if len(hook.requests) >= n:
                break
            await asyncio.sleep(0.02)
    return [json.loads(body) for _, body in hook.requests]


async def test_budget_spent(im: Imperium, hook: Receiver) -> None:
    rule_id = await rule_on(im, "agent.budget_spent", hook)
    data = {"agent_id": "writer", "agent_name": "Writer", "kind": "cost", "limit": 5.0,
            "spent": 5.2, "resets_at": 1_900_000_000.0}  # fmt: skip
    im.events.publish([Event("agent.budget_spent", 1.0, None, None, data)])  # as emitted
    [alert] = await alerts_at(hook)
    assert (alert["rule_id"], alert["event_type"]) == (rule_id, "agent.budget_spent")
    assert alert["subject"] == "agent:writer"  # from the payload: the cooldown is per agent
    assert alert["data"]["kind"] == "cost"
    assert alert["data"]["spent"] == 5.2
    await im.alerts.drain()
    [attempt] = await im.alerts.deliveries(rule_id)
    assert attempt.delivered


async def test_custody_level_change(im: Imperium, hook: Receiver) -> None:
    await rule_on(im, "agent.custody_level", hook)
    assert im.custody.on_level is not None
    im.custody.on_level({"echo": 3})  # what a graded custody test calls
    [alert] = await alerts_at(hook)
    assert alert["event_type"] == "agent.custody_level"
    assert alert["subject"] == "agent:echo"
    assert (alert["data"]["before"], alert["data"]["after"]) == (1, 3)
    assert alert["data"]["direction"] == "up"
    im.custody.on_level({"echo": 3})  # no change: no event
    await asyncio.sleep(0.2)
    assert len(hook.requests) == 1


async def test_a_failed_learning_cycle(
    im: Imperium, hook: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    await rule_on(im, "learning_cycle.*", hook)

    def broken() -> Any:
        raise RuntimeError("no predictor today")

    monkeypatch.setattr(im.learner, "make_predictor", broken)
    cycle = await im.learner.run_cycle()
    assert cycle.status == "failed"
    [alert] = await alerts_at(hook)
    assert alert["event_type"] == "learning_cycle.failed"
    assert "no predictor today" in alert["data"]["error_message"]
    assert alert["data"]["event_data"]["cycle_id"] == cycle.cycle_id


async def test_a_drift_alarm(im: Imperium, hook: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    await rule_on(im, "agent.drift", hook)
    router = im.learner.router
    observe = router.observe

    def drifting(execution: Execution) -> DriftAlarm | None:
        observe(execution)  # the router learns as ever; this attempt "raises" an alarm
        assert execution.agent_id is not None
        return DriftAlarm(execution.task_type, execution.agent_id, execution.finished_at,
                          120, 0.9, 100, 0.4, 50, -6.2)  # fmt: skip

    monkeypatch.setattr(router, "observe", drifting)
    task = await im.engine.submit(TaskSpec(type="echo", payload={}))
    await im.engine.wait_for(task.id)
    [alert] = await alerts_at(hook)
    assert alert["event_type"] == "agent.drift"
    assert alert["subject"] == "agent:echo"
    data = alert["data"]
    assert (data["task_type"], data["before_rate"], data["recent_rate"]) == ("echo", 0.9, 0.4)
    assert data["direction"] == "degraded"
    stored = [e for e in im.store.state.events if e.event_type == "agent.drift"]  # type: ignore[attr-defined]
    assert len(stored) == 1  # recorded, so the weekly report counts it
