"""Usage of models and figures per task type."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class UsageRow:
    """Tokens and cost of the attempts in one group (an agent, a task type or a UTC day);
    ``reported`` counts the attempts whose agent reported usage at all."""

    key: str
    attempts: int
    reported: int
    tokens: int
    cost: float


@dataclass(frozen=True, slots=True)
class TypeFigures:
    """A task type's recorded attempts since a time: outcomes, tokens, cost, and the
    durations of the most recent ones (newest first, at most the limit asked)."""

    attempts: int
    succeeded: int
    tokens: int
    cost: float
    durations: list[float]


class UsageStore(Protocol):
    """Tokens and cost as recorded on ``agent_task_executions``."""

    async def type_figures(self, task_type: str, since: float, limit: int) -> TypeFigures:
        """The attempts of ``task_type`` finished since ``since``."""
        ...

    async def usage(self, group: str, since: float, until: float) -> list[UsageRow]:
        """Per ``group`` ("agent", "task_type" or "day"), attempts finished in
        [since, until)."""
        ...

    async def recent_usage(self, window: int) -> list[tuple[str, UsageRow]]:
        """The newest ``window`` attempts per (task type, UTC day): (task type, the row
        keyed by the day). One bounded read, for pages."""
        ...

    async def spent_since(self, since: float) -> dict[str, tuple[int, float]]:
        """Per agent, the tokens and cost of its attempts finished since ``since``."""
        ...

    async def budget_events_since(self, since: float) -> set[str]:
        """Agents with an ``agent.budget_spent`` event since ``since``."""
        ...
