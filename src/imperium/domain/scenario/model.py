"""The scenario model and its truth: task types, agents and their skills, complexity,
drift and team tasks, and each agent's true success probability and duration (the
formulas are in the package docstring). Pure: no I/O, no randomness."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from imperium.domain.scenario.teams import Teams
from imperium.domain.teams import at_least

DEFAULT_LOAD = 0.7
MAX_LOAD = 1.5


@dataclass(frozen=True, slots=True)
class TaskTypeSpec:
    name: str
    weight: float
    capabilities: frozenset[str]
    """What an agent must offer (never empty: the type's own name when none is declared)."""


@dataclass(frozen=True, slots=True)
class Skill:
    success: float
    duration_mean: float
    duration_sigma: float
    success_slope: float | None = None
    """This agent's own slope on this type (None: ``complexity.success_slope``)."""


@dataclass(frozen=True, slots=True)
class SimAgent:
    id: str
    capabilities: frozenset[str]
    max_concurrency: int
    skills: Mapping[str, Skill]

    def can_take(self, kind: TaskTypeSpec) -> bool:
        """The agent has a skill for the type and offers every capability it requires."""
        return kind.name in self.skills and kind.capabilities <= self.capabilities


@dataclass(frozen=True, slots=True)
class Complexity:
    min: float = 1.0
    max: float = 1.0
    success_slope: float = 0.0
    duration_slope: float = 0.0

    @property
    def mid(self) -> float:
        return (self.min + self.max) / 2


@dataclass(frozen=True, slots=True)
class Drift:
    """From task index ``after_task`` on, ``agent``'s base success on ``task_type`` is
    ``success``."""

    agent: str
    after_task: int
    task_type: str
    success: float

    def as_json(self) -> dict[str, object]:
        return {
            "agent": self.agent,
            "after_task": self.after_task,
            "task_type": self.task_type,
            "success": self.success,
        }


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str
    task_types: tuple[TaskTypeSpec, ...]
    agents: tuple[SimAgent, ...]
    complexity: Complexity
    drift: tuple[Drift, ...] = ()
    load: float = DEFAULT_LOAD
    teams: Teams | None = None
    _agents: dict[str, SimAgent] = field(init=False, repr=False, compare=False)
    _types: dict[str, TaskTypeSpec] = field(init=False, repr=False, compare=False)
    _drift: dict[tuple[str, str], tuple[Drift, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        drift: dict[tuple[str, str], list[Drift]] = {}
        for entry in self.drift:
            drift.setdefault((entry.agent, entry.task_type), []).append(entry)
        object.__setattr__(self, "_agents", {a.id: a for a in self.agents})
        object.__setattr__(self, "_types", {t.name: t for t in self.task_types})
        # stable sort: among entries with the same after_task the later one wins
        object.__setattr__(
            self,
            "_drift",
            {k: tuple(sorted(v, key=lambda d: d.after_task)) for k, v in drift.items()},
        )

    # ------------------------------------------------------------------ lookups
    def agent(self, agent_id: str) -> SimAgent:
        return self._agents[agent_id]

    def task_type(self, name: str) -> TaskTypeSpec:
        return self._types[name]

    def capable(self, agent_id: str, task_type: str) -> bool:
        """The agent has a skill for the type and offers every capability it requires."""
        agent = self._agents.get(agent_id)
        kind = self._types.get(task_type)
        if agent is None or kind is None:
            return False
        return agent.can_take(kind)

    def capable_agents(self, task_type: str) -> list[SimAgent]:
        return [a for a in self.agents if self.capable(a.id, task_type)]

    # ------------------------------------------------------------------ the truth
    def base_success(self, agent_id: str, task_type: str, task_index: int) -> float:
        """The skill's success, or that of the latest drift entry in force at
        ``task_index``."""
        base = self._agents[agent_id].skills[task_type].success
        for entry in self._drift.get((agent_id, task_type), ()):
            if entry.after_task > task_index:
                break
            base = entry.success
        return base

    def true_success(
        self, agent_id: str, task_type: str, complexity: float, task_index: int
    ) -> float:
        """Probability that the agent succeeds on the ``task_index``-th task (0-based)."""
        base = self.base_success(agent_id, task_type, task_index)
        slope = self._agents[agent_id].skills[task_type].success_slope
        if slope is None:
            slope = self.complexity.success_slope
        p = base + slope * (complexity - self.complexity.min)
        return min(1.0, max(0.0, p))

    def team_success(
        self, members: tuple[str, ...], task_type: str, complexity: float, task_index: int
    ) -> float:
        """Probability that at least the quorum of ``members`` succeed: each succeeds
        independently with its own true success plus the team's combination effect
        (clipped to [0, 1])."""
        assert self.teams is not None
        effect = self.teams.effect(task_type, frozenset(members))
        probabilities = [
            min(1.0, max(0.0, self.true_success(m, task_type, complexity, task_index) + effect))
            for m in members
        ]
        return at_least(self.teams.quorum, probabilities)

    def mean_duration(self, agent_id: str, task_type: str, complexity: float) -> float:
        """Expected duration in seconds."""
        skill = self._agents[agent_id].skills[task_type]
        return skill.duration_mean * self._duration_factor(complexity)

    def duration_mu(self, agent_id: str, task_type: str, complexity: float) -> float:
        """mu of the lognormal duration: ln(mean) - sigma² / 2."""
        sigma = self._agents[agent_id].skills[task_type].duration_sigma
        return math.log(self.mean_duration(agent_id, task_type, complexity)) - sigma * sigma / 2

    def duration_sigma(self, agent_id: str, task_type: str) -> float:
        return self._agents[agent_id].skills[task_type].duration_sigma

    def _duration_factor(self, complexity: float) -> float:
        return 1.0 + self.complexity.duration_slope * (complexity - self.complexity.min)

    def capacity(self) -> float:
        """Tasks per second the agents complete when all slots are busy, approximately:
        Σ max_concurrency / (weighted mean over task types of the mean duration of the
        capable agents at mid complexity)."""
        total_weight = sum(t.weight for t in self.task_types)
        mid = self.complexity.mid
        mean = 0.0
        for kind in self.task_types:
            durations = [
                self.mean_duration(a.id, kind.name, mid) for a in self.capable_agents(kind.name)
            ]
            mean += kind.weight / total_weight * sum(durations) / len(durations)
        return sum(a.max_concurrency for a in self.agents) / mean
