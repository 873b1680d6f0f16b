"""The simulated world: tasks arriving as a Poisson process, each with its luck drawn in
advance, and the queue of timed events (arrivals and completions)."""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass

from imperium.domain.models import AgentState, Task
from imperium.domain.scenario import Scenario


@dataclass(slots=True)
class Pending:
    """A task waiting to start, with its luck: ``u`` (the attempt succeeds when it is below
    the chosen agent's true success) and ``z`` (a standard normal for its duration)."""

    index: int
    task: Task
    arrived_at: float
    u: float
    z: float


@dataclass(frozen=True, slots=True)
class Running:
    """An attempt under way, and how it will end."""

    task: Task
    agent: AgentState
    ok: bool


Event = int | Running
"""An arrival (the task's index) or a completion."""


class EventQueue:
    """Events in time order; events at the same time in the order they were pushed."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Event]] = []
        self._pushed = 0

    def __bool__(self) -> bool:
        return bool(self._heap)

    def push(self, at: float, event: Event) -> None:
        heapq.heappush(self._heap, (at, self._pushed, event))
        self._pushed += 1

    def pop(self) -> tuple[float, Event]:
        at, _, event = heapq.heappop(self._heap)
        return at, event


class Arrivals:
    """Draws every task from the environment's random stream: per task, in arrival order,
    its type, complexity, ``u`` and ``z``, then the gap to the next arrival."""

    def __init__(self, scenario: Scenario, env: random.Random) -> None:
        self.scenario = scenario
        self.env = env
        self.type_names = [t.name for t in scenario.task_types]
        self.cumulative = _cumulative_weights(scenario)
        self.rate = scenario.load * scenario.capacity()

    def gap(self) -> float:
        """Simulated seconds until the next arrival."""
        return self.env.expovariate(self.rate)

    def draw(self, index: int, now: float) -> Pending:
        """Task ``index``, arriving ``now``."""
        kind = self._task_type()
        complexity = self.env.uniform(self.scenario.complexity.min, self.scenario.complexity.max)
        u = self.env.random()
        z = self.env.gauss(0.0, 1.0)
        task = Task(
            id=f"sim-{index}",
            type=kind,
            created_at=now,
            capabilities=self.scenario.task_type(kind).capabilities,
            complexity=complexity,
            max_attempts=1,
        )
        return Pending(index, task, now, u, z)

    def _task_type(self) -> str:
        draw = self.env.random()
        for name, edge in zip(self.type_names, self.cumulative, strict=True):
            if draw < edge:
                return name
        return self.type_names[-1]


def _cumulative_weights(scenario: Scenario) -> list[float]:
    total_weight = sum(t.weight for t in scenario.task_types)
    cumulative: list[float] = []
    acc = 0.0
    for t in scenario.task_types:
        acc += t.weight / total_weight
        cumulative.append(acc)
    return cumulative
