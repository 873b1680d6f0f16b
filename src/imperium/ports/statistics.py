"""Aggregate reads over executions and workflows (statistics, dashboards)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from imperium.domain.states import Outcome, TaskState


@dataclass(frozen=True, slots=True)
class OutcomeCount:
    """Attempts with ``outcome`` that finished in the bucket starting at ``start``."""

    start: float
    outcome: Outcome
    count: int


@dataclass(frozen=True, slots=True)
class DecisionCount:
    """The attempts of one task type that ``agent_id`` got (the router's choices) and that
    finished in the bucket starting at ``start``: how many, and how many of them succeeded
    and failed (failed, timed out or lost; cancelled ones are in neither)."""

    start: float
    agent_id: str
    attempts: int
    succeeded: int
    failed: int


@dataclass(frozen=True, slots=True)
class AgentWindow:
    """An agent's attempts among the newest ones (succeeded or failed: cancelled and
    interrupted attempts say nothing about it), with nearest-rank duration percentiles
    and the tokens and cost they recorded (``None`` when none recorded any)."""

    agent_id: str
    attempts: int
    succeeded: int
    p50: float | None
    p95: float | None
    tokens: int | None
    cost: float | None
    by_type: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Task type -> (attempts, succeeded) among the same attempts."""

    @property
    def success_rate(self) -> float | None:
        return self.succeeded / self.attempts if self.attempts else None


WORKFLOW_SCAN = 5000
"""How many of the newest workflow tasks ``recent_workflows`` looks through."""


@dataclass(frozen=True, slots=True)
class WorkflowSummary:
    """A workflow's tasks counted per state (``created_at``: its first task's creation)."""

    workflow_id: str
    created_at: float
    states: dict[TaskState, int]

    @property
    def tasks(self) -> int:
        return sum(self.states.values())


class StatisticsStore(Protocol):
    """Aggregates over recent history for the dashboard, computed by the database over
    indexed time ranges (never by loading rows)."""

    async def agent_window(self, window: int) -> dict[str, AgentWindow]:
        """Per agent, its figures over the newest ``window`` attempts (by ``finished_at``)
        of all agents: a bounded read, whatever the table holds."""
        ...

    async def recent_workflows(self, limit: int) -> list[WorkflowSummary]:
        """The ``limit`` workflows whose tasks were created most recently (newest first),
        each with its tasks counted per state. Found among the newest
        ``WORKFLOW_SCAN`` workflow tasks, so the cost does not grow with the table."""
        ...

    async def outcome_series(self, since: float, bucket_seconds: float) -> list[OutcomeCount]:
        """Attempts finished at or after ``since``, counted per outcome and per bucket of
        ``bucket_seconds`` (buckets start at multiples of it; empty ones are left out)."""
        ...

    async def count_dead_since(self, since: float) -> int:
        """Tasks that ended ``dead`` (attempts exhausted) at or after ``since``."""
        ...

    async def decisions_series(
        self, task_type: str, since: float, bucket_seconds: float
    ) -> list[DecisionCount]:
        """Attempts of ``task_type`` finished at or after ``since``, counted per agent and
        per bucket of ``bucket_seconds`` (as ``outcome_series``; attempts without an agent
        are left out): which agent the router chose, over time."""
        ...
