"""The imperium agent: a learning cycle as a task; refuses what it cannot do."""

from __future__ import annotations

import random
from typing import Any

import pytest

from imperium.adapters.storage.memory import MemoryStore
from imperium.agents.base import TaskContext, TaskFailed
from imperium.agents.imperium import ImperiumAgent
from imperium.agents.loader import load_agent_class
from imperium.domain.models import AgentSpec
from imperium.domain.prediction import PairRates
from imperium.domain.routing import Router
from imperium.services.learning.service import Learner
from tests.support.learning_history import history


def ctx(task_type: str = "learning_cycle", **services: Any) -> TaskContext:
    return TaskContext("t1", task_type, {"trigger": "test"}, 1, "imperium", services=services)


class Clock:
    t = 1_800_000_000.0

    def now(self) -> float:
        self.t += 1
        return self.t


async def test_runs_a_learning_cycle_with_the_servers_learner() -> None:
    store = MemoryStore()
    await store.insert_agent(
        AgentSpec(id="good", type="remote", capabilities=frozenset({"review"}))
    )
    await store.import_executions(history(60))
    learner = Learner(store, Clock(), lambda: "c1", Router(random.Random(1)), PairRates)

    result = await ImperiumAgent().run(ctx(learner=learner))

    assert result["status"] == "completed"
    assert result["cycle_id"] == "c1"
    assert result["success_count"] + result["failure_count"] == 60
    [cycle] = await store.list_cycles(1)
    assert cycle.trigger == "test"


async def test_outside_the_server_it_says_so() -> None:
    with pytest.raises(TaskFailed, match="inside `imperium serve` only") as info:
        await ImperiumAgent().run(ctx())
    assert (info.value.kind, info.value.retryable) == ("not_configured", False)


async def test_other_task_types_are_refused() -> None:
    with pytest.raises(TaskFailed, match="does 'learning_cycle' tasks") as info:
        await ImperiumAgent().run(ctx("review"))
    assert info.value.kind == "bad_input"


def test_it_is_an_installed_agent_type() -> None:
    assert load_agent_class("imperium") is ImperiumAgent
