"""LocalExecutor, continued: ``setup()`` runs once per agent however many first attempts
start together; a blocking agent runs on a thread pool of its own, as large as its
concurrency; usage figures an agent reports must be numbers the store can keep."""

from __future__ import annotations

import asyncio
import math
import threading
from typing import Any

import pytest

from imperium.adapters.executors import local
from imperium.adapters.executors.local import LocalExecutor, to_result
from imperium.agents.base import Agent, Output, TaskContext
from imperium.domain.models import AgentSpec, AttemptResult
from imperium.domain.states import Outcome
from imperium.ports import Attempt


def attempt(agent_id: str, task_id: str, payload: object = None) -> Attempt:
    return Attempt(task_id, "job", payload, 1, 7, agent_id, 1.0, None, {})


class Reports:
    """Collects reported outcomes; ``wait(n)`` returns once ``n`` have arrived."""

    def __init__(self) -> None:
        self.got: dict[str, AttemptResult] = {}
        self._changed = asyncio.Event()

    def __call__(self, task_id: str, token: int, result: AttemptResult) -> None:
        assert token == 7
        assert task_id not in self.got, f"{task_id} reported twice"
        self.got[task_id] = result
        self._changed.set()

    async def wait(self, count: int) -> dict[str, AttemptResult]:
        async with asyncio.timeout(5):
            while len(self.got) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.got


def executor_for(
    monkeypatch: pytest.MonkeyPatch, cls: type[Agent], agent_id: str, max_concurrency: int = 1
) -> LocalExecutor:
    """A LocalExecutor with ``cls`` prepared as agent ``agent_id``."""
    monkeypatch.setattr(local, "load_agent_class", lambda agent_type: cls)
    executor = LocalExecutor()
    executor.prepare(AgentSpec(id=agent_id, type="test-agent", max_concurrency=max_concurrency))
    return executor


# ---------------------------------------------------------------- setup once


async def test_setup_runs_once_when_several_first_attempts_start_together(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    setups: list[int] = []

    class SlowSetup(Agent):
        async def setup(self) -> None:
            setups.append(len(setups) + 1)
            await asyncio.sleep(0.01)

        async def run(self, ctx: TaskContext) -> Any:
            return {"task": ctx.task_id, "setups": len(setups)}

    executor = executor_for(monkeypatch, SlowSetup, "a", max_concurrency=5)
    reports = Reports()
    ids = [f"t{i}" for i in range(5)]
    for task_id in ids:
        executor.start(attempt("a", task_id), reports)
    got = await reports.wait(5)
    executor.start(attempt("a", "later"), reports)  # set up already: no second setup
    await reports.wait(6)
    await executor.close()

    assert setups == [1]
    assert {t: (r.outcome, r.result) for t, r in got.items()} == {
        t: (Outcome.SUCCEEDED, {"task": t, "setups": 1}) for t in [*ids, "later"]
    }


async def test_a_failed_setup_fails_the_waiting_attempts_once_and_is_tried_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    setups: list[int] = []

    class SetupFailsOnce(Agent):
        async def setup(self) -> None:
            setups.append(len(setups) + 1)
            await asyncio.sleep(0.01)
            if len(setups) == 1:
                raise ConnectionError("model server not up yet")

        async def run(self, ctx: TaskContext) -> Any:
            return ctx.task_id

    executor = executor_for(monkeypatch, SetupFailsOnce, "a", max_concurrency=3)
    reports = Reports()
    for task_id in ("t0", "t1", "t2"):
        executor.start(attempt("a", task_id), reports)
    first = await reports.wait(3)
    assert setups == [1]
    assert {t: (r.outcome, r.error_kind, r.error_message) for t, r in first.items()} == {
        t: (Outcome.FAILED, "ConnectionError", "model server not up yet")
        for t in ("t0", "t1", "t2")
    }

    executor.start(attempt("a", "t3"), reports)
    later = (await reports.wait(4))["t3"]
    await executor.close()
    assert setups == [1, 2]
    assert (later.outcome, later.result) == (Outcome.SUCCEEDED, "t3")


# ---------------------------------------------------------------- blocking agents' threads


async def test_a_blocking_agent_runs_on_its_own_pool_sized_by_its_concurrency(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    threads: list[str] = []
    release = threading.Event()
    loop = asyncio.get_running_loop()
    two_started = asyncio.Event()

    class Blocking(Agent):
        blocking = True

        def run_blocking(self, ctx: TaskContext) -> Any:
            threads.append(threading.current_thread().name)
            if len(threads) == 2:
                loop.call_soon_threadsafe(two_started.set)
            release.wait(5)
            return ctx.task_id

    executor = executor_for(monkeypatch, Blocking, "b1", max_concurrency=2)
    reports = Reports()
    try:
        for task_id in ("t0", "t1", "t2"):
            executor.start(attempt("b1", task_id), reports)
        await asyncio.wait_for(two_started.wait(), 5)
        await asyncio.sleep(0.05)
        assert len(threads) == 2  # the third waits for one of this agent's two workers
    finally:
        release.set()
    got = await reports.wait(3)
    await executor.close()

    assert sorted(set(threads)) == ["agent-b1_0", "agent-b1_1"]
    assert len(threads) == 3
    assert {t: (r.outcome, r.result) for t, r in got.items()} == {
        t: (Outcome.SUCCEEDED, t) for t in ("t0", "t1", "t2")
    }


# ---------------------------------------------------------------- usage figures


@pytest.mark.parametrize(
    ("tokens", "cost", "message"),
    [
        ("5", None, "Output.tokens must be a whole number >= 0 or None, got '5'"),
        (-1, None, "Output.tokens must be a whole number >= 0 or None, got -1"),
        (2.5, None, "Output.tokens must be a whole number >= 0 or None, got 2.5"),
        (True, None, "Output.tokens must be a whole number >= 0 or None, got True"),
        (None, math.nan, "Output.cost must be a finite number >= 0 or None, got nan"),
        (None, math.inf, "Output.cost must be a finite number >= 0 or None, got inf"),
        (None, -0.5, "Output.cost must be a finite number >= 0 or None, got -0.5"),
        (None, "0.1", "Output.cost must be a finite number >= 0 or None, got '0.1'"),
        (None, False, "Output.cost must be a finite number >= 0 or None, got False"),
    ],
)
def test_usage_that_is_not_a_valid_number_fails_the_attempt(
    tokens: object, cost: object, message: str
) -> None:
    result = to_result(Output({"ok": True}, tokens=tokens, cost=cost))  # type: ignore[arg-type]
    assert (result.outcome, result.error_kind, result.error_message, result.retryable) == (
        Outcome.FAILED,
        "invalid_usage",
        message,
        False,
    )
    assert (result.result, result.tokens, result.cost) == (None, None, None)


def test_valid_usage_is_kept() -> None:
    zero = to_result(Output([1], tokens=0, cost=0))
    assert (zero.outcome, zero.result, zero.tokens, zero.cost) == (Outcome.SUCCEEDED, [1], 0, 0)
    none = to_result(Output("x"))
    assert (none.outcome, none.result, none.tokens, none.cost) == (
        Outcome.SUCCEEDED,
        "x",
        None,
        None,
    )


async def test_an_agent_reporting_bad_usage_fails_its_attempt(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class BadUsage(Agent):
        async def run(self, ctx: TaskContext) -> Any:
            return Output({"ok": True}, tokens="5")  # type: ignore[arg-type]

    executor = executor_for(monkeypatch, BadUsage, "a")
    reports = Reports()
    executor.start(attempt("a", "t0"), reports)
    result = (await reports.wait(1))["t0"]
    await executor.close()
    assert (result.outcome, result.error_kind, result.retryable) == (
        Outcome.FAILED,
        "invalid_usage",
        False,
    )
