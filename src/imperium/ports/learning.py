"""Learning events, their analytics, and the outcome model the learning cycle fits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from imperium.domain.learning import ModelReport, Prediction, Query
from imperium.domain.models import JSON, Event, Execution


@dataclass(frozen=True, slots=True)
class AgentLearning:
    """The learning columns of an agent's ``agent_metrics`` row, as learning cycles leave
    them (``total_learning_cycles == 0``: no cycle has run, the other figures mean nothing)."""

    agent_id: str
    learning_score: float
    total_learning_cycles: int
    last_learning_cycle: float | None
    learning_patterns: list[JSON]
    improvement_suggestions: list[JSON]


class LearningLog(NamedTuple):
    """A learning event with the seed's columns of ``learning_logs`` filled in."""

    event_type: str
    created_at: float
    agent_id: str | None = None
    agent_type: str | None = None
    topic: str | None = None
    results_count: int = 0
    results_sample: JSON = None
    insights: JSON = None
    error_message: str | None = None
    processing_time: float | None = None
    impact_score: float = 0.0
    event_data: JSON = None

    def as_event(self) -> Event:
        """The event published on the bus: the seed's fields in ``data``."""
        data = {name: getattr(self, name) for name in LEARNING_FIELDS}
        return Event(self.event_type, self.created_at, None, self.agent_id, data)


LEARNING_FIELDS = LearningLog._fields[3:]  # the seed's columns after agent_id


@dataclass(frozen=True, slots=True)
class LearningFilter:
    """Which learning events (never the engine's own) an analytics query covers; ``until``
    is inclusive, ``event_types`` empty means every learning event type."""

    agent_id: str | None = None
    event_types: tuple[str, ...] = ()
    since: float | None = None
    until: float | None = None
    limit: int = 50


@dataclass(frozen=True, slots=True)
class LearningTotals:
    """Events and summed impact of one (event type, agent) pair."""

    event_type: str
    agent_id: str | None
    events: int
    total_impact: float


@dataclass(frozen=True, slots=True)
class LearningAnalytics:
    """Totals of every matching event, and the ``limit`` most recent of them."""

    totals: list[LearningTotals]
    logs: list[LearningLog]


class LearningStore(Protocol):
    """Learning events in ``learning_logs`` and the learning columns of ``agent_metrics``."""

    async def log_learning(self, entry: LearningLog) -> None: ...

    async def learning_analytics(self, flt: LearningFilter) -> LearningAnalytics:
        """Totals computed by the database, and the most recent matching rows."""
        ...

    async def delete_events_before(self, before: float, chunk: int = 10_000) -> int:
        """Delete ``learning_logs`` rows (engine and learning events) created before
        ``before``; returns how many. The retention of the daily cleanup."""
        ...

    async def agent_learning(self, agent_id: str | None = None) -> dict[str, AgentLearning]:
        """Every registered agent's learning columns, or ``agent_id``'s only."""
        ...


class OutcomePredictor(Protocol):
    """Predicts success probability and duration of an agent on a task."""

    report: ModelReport | None
    """The version in use; None before the first fit."""

    def fit(self, executions: Sequence[Execution], now: float) -> ModelReport:
        """Train on ``executions`` (oldest first, any outcome; those that teach nothing
        are ignored), measuring accuracy on the newest ones held out."""
        ...

    def predict(self, queries: Sequence[Query]) -> list[Prediction]: ...
