"""LocalExecutor: runs real agent code and reports each outcome once."""

from __future__ import annotations

import asyncio

from imperium.adapters.executors.local import LocalExecutor, to_result
from imperium.agents.base import Output
from imperium.domain.models import AgentSpec, AttemptResult
from imperium.domain.states import Outcome
from imperium.ports import Attempt


def attempt(agent_id: str, payload: object = None, task_id: str = "t1") -> Attempt:
    return Attempt(task_id, "job", payload, 1, 7, agent_id, 1.0, None, {})


class Reports:
    def __init__(self) -> None:
        self.got: list[tuple[str, int, AttemptResult]] = []
        self.event = asyncio.Event()

    def __call__(self, task_id: str, token: int, result: AttemptResult) -> None:
        self.got.append((task_id, token, result))
        self.event.set()


async def run_one(agent_type: str, payload: object = None, **config: object) -> AttemptResult:
    executor = LocalExecutor()
    executor.prepare(AgentSpec(id="a", type=agent_type, config=dict(config)))
    reports = Reports()
    executor.start(attempt("a", payload), reports)
    await asyncio.wait_for(reports.event.wait(), 5)
    await executor.close()
    [(task_id, token, result)] = reports.got
    assert (task_id, token) == ("t1", 7)
    return result


async def test_async_and_blocking_agents() -> None:
    assert (await run_one("echo", {"x": 1})).result == {"x": 1}
    assert (await run_one("tests.support.agents:blocking_double", 4)).result == 8


async def test_failures_carry_their_kind_and_retryability() -> None:
    generic = await run_one("tests.support.agents:always_fails")
    assert (generic.outcome, generic.error_kind, generic.retryable) == (
        Outcome.FAILED,
        "RuntimeError",
        True,
    )
    fatal = await run_one("tests.support.agents:fatal")
    assert (fatal.error_kind, fatal.retryable) == ("bad_input", False)
    planned = await run_one("tests.support.agents:Flaky", failures=1)
    assert planned.error_kind == "planned"


async def test_cancel_reports_nothing() -> None:
    executor = LocalExecutor()
    executor.prepare(AgentSpec(id="a", type="tests.support.agents:hangs"))
    reports = Reports()
    executor.start(attempt("a"), reports)
    await asyncio.sleep(0.01)
    assert executor.running() == 1
    executor.cancel("t1")
    await asyncio.sleep(0.01)
    assert executor.running() == 0
    assert reports.got == []
    await executor.close()


async def test_unknown_agent_fails_the_attempt() -> None:
    executor = LocalExecutor()
    reports = Reports()
    executor.start(attempt("ghost"), reports)
    await asyncio.wait_for(reports.event.wait(), 5)
    assert reports.got[0][2].error_kind == "agent_unavailable"


def test_results_must_be_json_and_output_carries_usage() -> None:
    bad = to_result({1, 2})
    assert (bad.outcome, bad.error_kind, bad.retryable) == (
        Outcome.FAILED,
        "unserializable_result",
        False,
    )
    usage = to_result(Output({"ok": True}, tokens=12, cost=0.5))
    assert (usage.outcome, usage.result, usage.tokens, usage.cost) == (
        Outcome.SUCCEEDED,
        {"ok": True},
        12,
        0.5,
    )


async def test_agent_code_that_exits_fails_its_attempt_instead_of_the_process() -> None:
    for agent_type in ("tests.support.agents:exits", "tests.support.agents:interrupts", "sys:exit"):
        result = await run_one(agent_type)
        assert result.outcome is Outcome.FAILED, agent_type
        assert result.error_kind in {"SystemExit", "KeyboardInterrupt"}, agent_type
