"""The policies a simulation compares (see the package docstring): each chooses among the
candidates for a task and hears how each execution ended."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Protocol

from imperium.domain.models import AgentState, Execution, Task
from imperium.domain.routing import Router
from imperium.domain.scenario import Scenario

POLICIES = ("learned", "greedy", "random", "oracle")


class Policy(Protocol):
    def choose(
        self, task: Task, candidates: Sequence[AgentState], task_index: int
    ) -> AgentState: ...

    def observe(self, execution: Execution, ok: bool) -> None: ...


class LearnedPolicy:
    """The engine's router, in autonomous mode."""

    def __init__(self, router: Router) -> None:
        self.router = router

    def choose(self, task: Task, candidates: Sequence[AgentState], task_index: int) -> AgentState:
        return self.router.choose(task, candidates)

    def observe(self, execution: Execution, ok: bool) -> None:
        """The router hears every execution already (it also detects drift)."""


class GreedyPolicy:
    """The seed's method: the best observed success rate on the type, ties at random."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.tally: dict[tuple[str, str], list[int]] = {}

    def rate(self, task_type: str, agent_id: str) -> float:
        successes, n = self.tally.get((task_type, agent_id), (0, 0))
        return successes / n if n else 0.0

    def choose(self, task: Task, candidates: Sequence[AgentState], task_index: int) -> AgentState:
        rates = [self.rate(task.type, a.spec.id) for a in candidates]
        best = max(rates)
        return self.rng.choice([a for a, r in zip(candidates, rates, strict=True) if r == best])

    def observe(self, execution: Execution, ok: bool) -> None:
        assert execution.agent_id is not None
        tally = self.tally.setdefault((execution.task_type, execution.agent_id), [0, 0])
        tally[0] += ok
        tally[1] += 1


class RandomPolicy:
    """Uniform among the candidates."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def choose(self, task: Task, candidates: Sequence[AgentState], task_index: int) -> AgentState:
        return self.rng.choice(list(candidates))

    def observe(self, execution: Execution, ok: bool) -> None:
        """Random learns nothing."""


class OraclePolicy:
    """Knows the truth: the highest true success, then the shorter mean duration, then
    the id."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario

    def choose(self, task: Task, candidates: Sequence[AgentState], task_index: int) -> AgentState:
        return min(candidates, key=lambda a: self._rank(a, task, task_index))

    def _rank(self, agent: AgentState, task: Task, task_index: int) -> tuple[float, float, str]:
        s, agent_id = self.scenario, agent.spec.id
        return (
            -s.true_success(agent_id, task.type, task.complexity, task_index),
            s.mean_duration(agent_id, task.type, task.complexity),
            agent_id,
        )

    def observe(self, execution: Execution, ok: bool) -> None:
        """The oracle knows already."""


def make_policy(name: str, router: Router, rng: random.Random, scenario: Scenario) -> Policy:
    """The policy called ``name`` (one of :data:`POLICIES`)."""
    if name == "learned":
        return LearnedPolicy(router)
    if name == "greedy":
        return GreedyPolicy(rng)
    if name == "random":
        return RandomPolicy(rng)
    return OraclePolicy(scenario)
