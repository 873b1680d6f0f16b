"""Choosing an agent for a task: capability and capacity checks, and the policy hook.

The scheduler finds every agent that *can* take a task now (capabilities, status, free
slot, resources) and asks a :class:`SelectionPolicy` to pick one. The default picks the
least-loaded; the learning router plugs in here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from imperium.domain.models import AgentState, Execution, Task

_PRIORITY_RANK = {"high": 0, "medium": 1, "low": 2}


def has_capabilities(agent: AgentState, task: Task) -> bool:
    if task.pinned_agent is not None:
        return task.pinned_agent == agent.spec.id
    return task.required_capabilities <= agent.spec.capabilities


def resources_fit(agent: AgentState, requested: Mapping[str, float]) -> bool:
    """True when the agent offers every requested resource with enough left over.

    An agent that declares no resources is limited by ``max_concurrency`` alone.
    """
    offered = agent.spec.resources
    if not offered:
        return True
    for name, amount in requested.items():
        if amount <= 0:
            continue
        if name not in offered:
            return False
        if agent.resources_in_use.get(name, 0.0) + amount > offered[name] + 1e-9:
            return False
    return True


def can_take_now(agent: AgentState, task: Task) -> bool:
    """Capabilities match, the agent accepts work, a slot is free and resources fit."""
    return (
        agent.accepting
        and agent.free_slots > 0
        and has_capabilities(agent, task)
        and resources_fit(agent, task.resources)
    )


def could_ever_take(agent: AgentState, task: Task) -> bool:
    """Capabilities match and the request is within what the agent offers at all."""
    if not has_capabilities(agent, task):
        return False
    offered = agent.spec.resources
    if not offered:
        return True
    return all(
        amount <= 0 or (name in offered and amount <= offered[name] + 1e-9)
        for name, amount in task.resources.items()
    )


class SelectionPolicy(Protocol):
    """Picks one agent among ``candidates`` (never empty, all able to take ``task`` now),
    and hears every finished attempt so that it can learn from it."""

    def choose(self, task: Task, candidates: Sequence[AgentState]) -> AgentState: ...

    def observe(self, execution: Execution) -> object: ...


class LeastLoaded:
    """The agent with the lowest running/max_concurrency; then agent priority, then id."""

    def choose(self, task: Task, candidates: Sequence[AgentState]) -> AgentState:
        return min(
            candidates,
            key=lambda a: (a.load, _PRIORITY_RANK.get(a.spec.priority, 1), a.spec.id),
        )

    def observe(self, execution: Execution) -> None:
        """Least-loaded learns nothing."""
