"""The in-process executor: async agents run on the event loop, blocking ones in threads.

A cancelled attempt reports nothing. A blocking agent's thread cannot be stopped from
outside: on cancel or timeout its result is discarded, but the thread runs to its end.
"""

from __future__ import annotations

import asyncio
import logging

import orjson

from imperium.agents.base import Agent, Output, TaskContext, TaskFailed
from imperium.agents.loader import load_agent_class
from imperium.domain.models import AgentSpec, AttemptResult
from imperium.domain.states import Outcome
from imperium.ports import Attempt, AttemptReporter

log = logging.getLogger(__name__)


def _check_json(value: object) -> str | None:
    try:
        orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    except TypeError as exc:
        return str(exc)
    return None


def to_result(value: object) -> AttemptResult:
    """Turn what an agent returned into an attempt result (unwrapping :class:`Output`)."""
    tokens: int | None = None
    cost: float | None = None
    if isinstance(value, Output):
        tokens, cost = value.tokens, value.cost
        value = value.value
    problem = _check_json(value)
    if problem is not None:
        return AttemptResult(
            Outcome.FAILED,
            error_kind="unserializable_result",
            error_message=f"the agent returned a value that is not JSON: {problem}",
            retryable=False,
        )
    return AttemptResult(Outcome.SUCCEEDED, result=value, tokens=tokens, cost=cost)


def to_failure(exc: Exception) -> AttemptResult:
    if isinstance(exc, TaskFailed):
        return AttemptResult(
            Outcome.FAILED, error_kind=exc.kind, error_message=str(exc), retryable=exc.retryable
        )
    return AttemptResult(
        Outcome.FAILED, error_kind=type(exc).__name__, error_message=str(exc) or repr(exc)
    )


class LocalExecutor:
    def __init__(self) -> None:
        self._agents: dict[str, tuple[Agent, dict[str, object]]] = {}
        self._ready: set[str] = set()
        self._running: dict[str, asyncio.Task[None]] = {}

    def prepare(self, spec: AgentSpec) -> None:
        cls = load_agent_class(spec.type)
        self._agents[spec.id] = (cls(spec.config), dict(spec.config))
        self._ready.discard(spec.id)

    def forget(self, agent_id: str) -> None:
        self._agents.pop(agent_id, None)
        self._ready.discard(agent_id)

    def start(self, attempt: Attempt, report: AttemptReporter) -> None:
        task = asyncio.get_running_loop().create_task(self._run(attempt, report))
        self._running[attempt.task_id] = task

    async def _run(self, attempt: Attempt, report: AttemptReporter) -> None:
        try:
            result = await self._attempt(attempt)
        except asyncio.CancelledError:
            return
        finally:
            self._running.pop(attempt.task_id, None)
        report(attempt.task_id, attempt.token, result)

    async def _attempt(self, attempt: Attempt) -> AttemptResult:
        entry = self._agents.get(attempt.agent_id)
        if entry is None:
            return AttemptResult(
                Outcome.FAILED,
                error_kind="agent_unavailable",
                error_message=f"agent {attempt.agent_id} has no loaded implementation",
            )
        agent, config = entry
        ctx = TaskContext(
            attempt.task_id,
            attempt.type,
            attempt.payload,
            attempt.attempt,
            attempt.agent_id,
            attempt.complexity,
            attempt.deadline,
            attempt.resources,
            config,
        )
        try:
            if attempt.agent_id not in self._ready:
                await agent.setup()
                self._ready.add(attempt.agent_id)
            return to_result(await agent.run(ctx))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.debug("attempt failed", exc_info=True, extra={"task_id": attempt.task_id})
            return to_failure(exc)

    def cancel(self, task_id: str) -> None:
        task = self._running.pop(task_id, None)
        if task is not None:
            task.cancel()

    def running(self) -> int:
        return len(self._running)

    async def close(self) -> None:
        for task in list(self._running.values()):
            task.cancel()
        await asyncio.gather(*self._running.values(), return_exceptions=True)
        self._running.clear()
        for agent_id in list(self._ready):
            agent, _ = self._agents[agent_id]
            try:
                await agent.teardown()
            except Exception:
                log.exception("agent %s teardown failed", agent_id)
        self._ready.clear()
