"""What runs inside Ray's worker processes: one attempt of an agent, as a Ray task (a
stateless agent) or on a Ray actor (a stateful one, set up once per actor).

Imported by Ray workers by reference (the same installed package), so nothing here
imports Ray. A worker process keeps the agents it has set up (code, not task state) so
that a stateless agent's setup is not paid on every attempt.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from imperium.adapters.executors.local import run_attempt
from imperium.agents.base import Agent, TaskContext
from imperium.agents.loader import load_agent_class
from imperium.domain.models import AttemptResult

_agents: dict[tuple[str, str, str], Agent] = {}  # (agent id, type, config) -> set-up agent
_loop: asyncio.AbstractEventLoop | None = None


def _run(coro: Coroutine[Any, Any, AttemptResult]) -> AttemptResult:
    """Run ``coro`` on this worker's one event loop: asyncio.run's new loop per attempt
    cost more than a no-op attempt itself (bench/ray_overhead.py)."""
    global _loop
    if _loop is None or _loop.is_closed():
        _loop = asyncio.new_event_loop()
    return _loop.run_until_complete(coro)


def bind(
    agent_id: str, agent_type: str, config: dict[str, Any]
) -> Callable[[dict[str, Any]], AttemptResult]:
    """One agent's Ray task function, its type and config bound in: Ray ships the function
    to its workers once, so each attempt carries only its own fields."""
    key = (agent_id, agent_type, repr(sorted(config.items())))

    def run(fields: dict[str, Any]) -> AttemptResult:
        return run_task(key, agent_type, config, fields)

    run.__name__ = run.__qualname__ = f"imperium_agent_{agent_id}"[:100]
    return run


def run_task(
    key: tuple[str, str, str], agent_type: str, config: dict[str, Any], fields: dict[str, Any]
) -> AttemptResult:
    """A Ray task: one attempt of a stateless agent (``key`` names its set-up instance)."""
    agent = _agents.get(key)
    fresh = agent is None
    if agent is None:
        agent = load_agent_class(agent_type)(config)
    return _run(_attempt(agent, fields, config, setup=fresh, keep=key))


async def _attempt(
    agent: Agent,
    fields: dict[str, Any],
    config: dict[str, Any],
    *,
    setup: bool,
    keep: tuple[str, str, str] | None = None,
) -> AttemptResult:
    if setup:
        await agent.setup()
        if keep is not None:
            _agents[keep] = agent
    return await run_attempt(agent, TaskContext(**fields, config=config))


class AgentActor:
    """A Ray actor: one stateful agent, set up at its first attempt and kept between
    attempts (a model loaded once). Ray runs one attempt at a time on it."""

    def __init__(self, agent_type: str, config: dict[str, Any]) -> None:
        self._agent = load_agent_class(agent_type)(config)
        self._config = config
        self._ready = False

    def alive(self) -> bool:
        """Answers while the actor lives: sent before an attempt to an actor left idle."""
        return True

    def run(self, fields: dict[str, Any]) -> AttemptResult:
        result = _run(_attempt(self._agent, fields, self._config, setup=not self._ready))
        self._ready = True
        return result
