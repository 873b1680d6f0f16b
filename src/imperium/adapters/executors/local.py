"""The in-process executor: async agents run on the event loop, blocking ones in threads.

A cancelled attempt reports nothing. A blocking agent's thread cannot be stopped from
outside: on cancel or timeout its result is discarded, but the thread runs to its end.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

from imperium.adapters.jsonvalues import json_problem
from imperium.agents.base import Agent, Output, TaskContext, TaskFailed
from imperium.agents.loader import load_agent_class
from imperium.domain.models import AgentSpec, AttemptResult
from imperium.domain.states import Outcome
from imperium.ports import Attempt, AttemptReporter

log = logging.getLogger(__name__)


def _check_usage(tokens: object, cost: object) -> str | None:
    if tokens is not None and (
        not isinstance(tokens, int) or isinstance(tokens, bool) or tokens < 0
    ):
        return f"Output.tokens must be a whole number >= 0 or None, got {tokens!r}"
    if cost is not None and (
        not isinstance(cost, int | float)
        or isinstance(cost, bool)
        or not math.isfinite(cost)
        or cost < 0
    ):
        return f"Output.cost must be a finite number >= 0 or None, got {cost!r}"
    return None


def to_result(value: object) -> AttemptResult:
    """Turn what an agent returned into an attempt result (unwrapping :class:`Output`)."""
    tokens: int | None = None
    cost: float | None = None
    if isinstance(value, Output):
        tokens, cost = value.tokens, value.cost
        value = value.value
        usage_problem = _check_usage(tokens, cost)
        if usage_problem is not None:
            return AttemptResult(
                Outcome.FAILED,
                error_kind="invalid_usage",
                error_message=usage_problem,
                retryable=False,
            )
    problem = json_problem(value)
    if problem is not None:
        return AttemptResult(
            Outcome.FAILED,
            error_kind="unserializable_result",
            error_message=f"the agent returned a value that is not JSON: {problem}",
            retryable=False,
        )
    return AttemptResult(Outcome.SUCCEEDED, result=value, tokens=tokens, cost=cost)


def to_failure(exc: BaseException) -> AttemptResult:
    if isinstance(exc, TaskFailed):
        return AttemptResult(
            Outcome.FAILED, error_kind=exc.kind, error_message=str(exc), retryable=exc.retryable,
            tokens=exc.tokens, cost=exc.cost,
        )  # fmt: skip
    return AttemptResult(
        Outcome.FAILED, error_kind=type(exc).__name__, error_message=str(exc) or repr(exc)
    )


async def run_attempt(agent: Agent, ctx: TaskContext) -> AttemptResult:
    """Run one attempt of ``agent`` and turn what happened into an attempt result (shared
    by the in-process executor and the remote Worker).

    Agent code must never stop the scheduler: ``SystemExit``, ``KeyboardInterrupt`` and any
    other ``BaseException`` it raises fail the attempt (asyncio would otherwise re-raise
    them out of the event loop). Only cancellation passes through."""
    try:
        return to_result(await agent.run(ctx))
    except asyncio.CancelledError:
        raise
    except BaseException as exc:
        log.debug("attempt failed", exc_info=True, extra={"task_id": ctx.task_id})
        return to_failure(exc)


class LocalExecutor:
    def __init__(
        self,
        services: dict[str, object] | None = None,
        config_defaults: dict[str, dict[str, object]] | None = None,
    ) -> None:
        self._services = dict(services or {})
        # per agent type, configuration the server supplies unless the agent's own sets it
        # (e.g. the directories built-in agents may read)
        self._config_defaults = dict(config_defaults or {})
        self._agents: dict[str, tuple[Agent, dict[str, object]]] = {}
        self._ready: set[str] = set()
        self._running: dict[str, asyncio.Task[None]] = {}
        self._setting_up: dict[str, asyncio.Future[None]] = {}

    def lend(self, name: str, service: object) -> None:
        """Lend ``service`` to every agent as ``ctx.services[name]`` (from the next attempt)."""
        self._services[name] = service

    def prepare(self, spec: AgentSpec) -> None:
        cls = load_agent_class(spec.type)
        config = {**self._config_defaults.get(spec.type, {}), **spec.config}
        instance = cls(config)
        if instance.blocking:
            # its own pool, as large as its concurrency: a hung call (its thread cannot be
            # killed) holds one of this agent's workers, never another agent's
            instance.thread_pool = ThreadPoolExecutor(
                max_workers=spec.max_concurrency, thread_name_prefix=f"agent-{spec.id}"
            )
        self.forget(spec.id)
        self._agents[spec.id] = (instance, config)

    def update(self, spec: AgentSpec) -> None:
        """Nothing to do: the engine alone limits how many attempts run at once."""

    def reloadable(self) -> list[str]:
        return []  # a load here fails for the agent's own reasons: it waits for a change

    def forget(self, agent_id: str) -> None:
        entry = self._agents.pop(agent_id, None)
        self._ready.discard(agent_id)
        if entry is not None and entry[0].thread_pool is not None:
            entry[0].thread_pool.shutdown(wait=False)

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
        """One coroutine for the whole attempt (setup when needed, then the agent's run,
        contained as :func:`run_attempt` does): every nested coroutine is paid per task."""
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
            self._services,
        )
        if attempt.agent_id not in self._ready:
            try:
                await self._setup(attempt.agent_id, agent)
            except asyncio.CancelledError:
                raise
            except BaseException as exc:  # agent code: contained like run (see run_attempt)
                log.debug("agent setup failed", exc_info=True, extra={"task_id": attempt.task_id})
                return to_failure(exc)
        try:
            return to_result(await agent.run(ctx))
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # the same containment as run_attempt
            log.debug("attempt failed", exc_info=True, extra={"task_id": ctx.task_id})
            return to_failure(exc)

    async def _setup(self, agent_id: str, agent: Agent) -> None:
        """Run ``agent.setup()`` once, however many first attempts start together."""
        if agent_id in self._ready:
            return
        pending = self._setting_up.get(agent_id)
        if pending is None:
            pending = asyncio.ensure_future(agent.setup())
            self._setting_up[agent_id] = pending
        try:
            await asyncio.shield(pending)
        finally:
            if pending.done():
                self._setting_up.pop(agent_id, None)
        self._ready.add(agent_id)

    def cancel(self, task_id: str) -> None:
        task = self._running.pop(task_id, None)
        if task is not None:
            task.cancel()

    def running(self) -> int:
        return len(self._running)

    def unplaceable(self, agent_id: str, resources: Mapping[str, float]) -> str | None:
        return None  # in this process: the agent's own offer of resources is all that counts

    def capacity_changed(self) -> bool:
        return False

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
        for agent, _ in self._agents.values():
            if agent.thread_pool is not None:
                agent.thread_pool.shutdown(wait=False)
