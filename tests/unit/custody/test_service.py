"""The custody harness on the in-memory store with a scripted engine: what it sends, how
it grades, how it records — including claims it verifies, a concurrent writer, and an
agent that never answers."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest

from imperium.adapters.storage.memory import MemoryStore
from imperium.domain.custody import CustodyRecord
from imperium.domain.errors import ValidationError
from imperium.domain.learning import CycleStatus, LearningCycle
from imperium.domain.models import AgentSpec, Task
from imperium.domain.specs import TaskSpec
from imperium.domain.states import AgentStatus, TaskState
from imperium.services.custody.bank import default_bank
from imperium.services.custody.service import CustodyService


class Clock:
    t = 1_800_000_000.0

    def now(self) -> float:
        self.t += 1.0
        return self.t


class ScriptedEngine:
    """Answers each submitted task with ``answer(spec)``; None leaves it queued."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.sent: list[TaskSpec] = []
        self.tasks: dict[str, Task] = {}
        self.cancelled: list[str] = []
        self.ids = (f"t{i}" for i in itertools.count())

    async def submit(self, spec: TaskSpec) -> Task:
        self.sent.append(spec)
        task = Task(id=next(self.ids), type=spec.type, created_at=0.0, payload=spec.payload)
        self.tasks[task.id] = task
        return task

    async def wait_for(self, task_id: str) -> Task:
        task = self.tasks[task_id]
        result = self.answer(self.sent[-1])
        if result is None:
            await asyncio.sleep(3600)
        task.state, task.result = TaskState.SUCCEEDED, result
        return task

    async def cancel(self, task_id: str) -> Task:
        self.cancelled.append(task_id)
        self.tasks[task_id].state = TaskState.CANCELLED
        return self.tasks[task_id]


async def harness(
    answer: Any, capabilities: set[str], **kw: Any
) -> tuple[CustodyService, MemoryStore, ScriptedEngine]:
    store = MemoryStore()
    await store.insert_agent(AgentSpec(id="a", type="remote", capabilities=frozenset(capabilities)))
    engine = ScriptedEngine(answer)
    ids = (f"r{i}" for i in itertools.count())
    service = CustodyService(store, engine, default_bank(), Clock(), lambda: next(ids),
                             cycles=store, **kw)  # fmt: skip
    return service, store, engine


async def test_the_task_is_pinned_limited_and_carries_no_reference() -> None:
    service, store, engine = await harness(lambda spec: "I don't know", {"answer"})
    run = await service.test("a")
    [spec] = engine.sent
    assert (spec.pinned_agent, spec.max_attempts, spec.timeout) == ("a", 1, 300.0)
    assert set(spec.payload) == {"question", "format"}
    assert run.result.passed is False
    assert run.result.xp_awarded == 1
    assert (await store.get_custody("a")) == run.record


async def test_a_self_reported_learning_cycle_must_exist() -> None:
    fake = {"status": "completed", "cycle_id": "c-made-up", "participating_agents": [],
            "success_count": 1, "failure_count": 0, "insights_generated": 0,
            "total_learning_value": None, "model": None}  # fmt: skip
    service, _store, _ = await harness(lambda spec: fake, {"learning_cycle"})
    run = await service.test("a")
    assert run.result.passed is False
    assert "not backed by data" in str(run.result.grader_output["verification"])

    service2, store2, _ = await harness(
        lambda spec: {**fake, "cycle_id": "c-real"}, {"learning_cycle"}
    )
    await store2.save_cycle(LearningCycle("c-real", 1.9e9, 1.9e9 + 1, (), 0.1, 1, 0, 0,
                                          CycleStatus.COMPLETED, {}))  # fmt: skip
    run2 = await service2.test("a")
    assert "verification" not in run2.result.grader_output
    assert run2.result.passed is True


async def test_a_result_recorded_meanwhile_by_another_process_is_kept() -> None:
    service, store, engine = await harness(lambda spec: "I don't know", {"answer"})
    original = engine.wait_for

    async def slow_wait(task_id: str) -> Task:
        # another process records a passed test of the same agent while this one waits
        other = CustodyRecord("a", xp=50, tests=1, passed=1, consecutive_successes=1,
                              recent=(True,), last_test_at=1.0)  # fmt: skip
        from dataclasses import replace

        await store.save_custody_result(replace(_result_stub(), result_id="other"), other)
        return await original(task_id)

    engine.wait_for = slow_wait  # type: ignore[method-assign]
    run = await service.test("a")
    assert (run.record.tests, run.record.xp) == (2, 51)  # both results count
    assert len(await store.list_custody_results("a")) == 2


def _result_stub():  # a stored result of another process
    from imperium.domain.custody import Category, CustodyResult, Difficulty

    return CustodyResult("x", "a", "kv-b-http-429", 1, Category.KNOWLEDGE_VERIFICATION,
                         Difficulty.BASIC, None, 429, 1.0, True, 0.6, {}, 1.0, 50, 1.0)  # fmt: skip


async def test_an_agent_that_never_answers_scores_zero_and_the_task_is_withdrawn() -> None:
    service, _store, engine = await harness(lambda spec: None, {"answer"}, margin=-299.95)
    run = await service.test("a")
    assert run.result.passed is False
    assert run.result.answer is None
    assert engine.cancelled == [run.task.id]  # type: ignore[union-attr]
    assert run.result.grader_output["error"] == "the agent gave no answer"


async def test_only_active_agents_with_a_fitting_task_type_are_tested() -> None:
    service, store, _ = await harness(lambda spec: "x", {"nothing-the-bank-has"})
    with pytest.raises(ValidationError, match="no custody test"):
        await service.test("a")
    await store.update_agent(AgentSpec(id="a", type="remote", capabilities=frozenset({"answer"}),
                                       status=AgentStatus.PAUSED))  # fmt: skip
    with pytest.raises(ValidationError, match="only an active agent"):
        await service.test("a")
