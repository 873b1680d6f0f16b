"""Learning events that clients log, and the learning analytics computed from them.

A learning event is a ``learning_logs`` row with the seed's columns (topic, impact score,
results …). Logging one stores it, then publishes it on the event bus so that WebSocket
clients see it. The engine's own namespaces (``task.``, ``agent.``, ``scheduler.``) are
refused: only the engine and the agent registry write those.

Analytics come from stored rows only: the database computes the totals over every
matching event, and returns the most recent rows up to a limit. Nothing is generated; with
no events the averages are ``None``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from imperium.domain.errors import ValidationError
from imperium.domain.events import ENGINE_NAMESPACES, is_engine_event
from imperium.ports import (
    Clock,
    EventSink,
    LearningAnalytics,
    LearningFilter,
    LearningLog,
    LearningStore,
)

MAX_LOGS = 1000


@dataclass(frozen=True, slots=True)
class AgentImpact:
    """One agent's share of the matching events."""

    events: int
    total_impact: float

    @property
    def average_impact(self) -> float:
        return self.total_impact / self.events


@dataclass(frozen=True, slots=True)
class LearningSummary:
    total_events: int
    total_impact: float
    average_impact: float | None  # None when no event matched
    event_type_counts: dict[str, int]
    agents: dict[str, AgentImpact]  # events without an agent count only in the totals
    logs: list[LearningLog]  # the most recent first


def summarise(analytics: LearningAnalytics) -> LearningSummary:
    """Totals per event type and per agent from the per-(type, agent) totals."""
    type_counts: dict[str, int] = {}
    agents: dict[str, AgentImpact] = {}
    for t in analytics.totals:
        type_counts[t.event_type] = type_counts.get(t.event_type, 0) + t.events
        if t.agent_id is not None:
            seen = agents.get(t.agent_id, AgentImpact(0, 0.0))
            agents[t.agent_id] = AgentImpact(
                seen.events + t.events, seen.total_impact + t.total_impact
            )
    total_events = sum(t.events for t in analytics.totals)
    total_impact = sum(t.total_impact for t in analytics.totals)
    return LearningSummary(
        total_events=total_events,
        total_impact=total_impact,
        average_impact=total_impact / total_events if total_events else None,
        event_type_counts=dict(sorted(type_counts.items())),
        agents=dict(sorted(agents.items())),
        logs=analytics.logs,
    )


def check_learning_type(event_type: str) -> None:
    if not event_type.strip():
        raise ValidationError("event_type is empty; name the kind of learning event")
    if is_engine_event(event_type):
        namespaces = ", ".join(ENGINE_NAMESPACES)
        raise ValidationError(
            f"event type '{event_type}' is in one of Imperium's own namespaces ({namespaces}), "
            "which only the engine writes; choose another name, e.g. 'internet_learning'"
        )


def check_learning_log(entry: LearningLog) -> None:
    check_learning_type(entry.event_type)
    if not math.isfinite(entry.impact_score):
        raise ValidationError("impact_score must be a finite number")
    if entry.processing_time is not None and not (
        math.isfinite(entry.processing_time) and entry.processing_time >= 0
    ):
        raise ValidationError("processing_time must be a finite number of seconds >= 0")
    if entry.results_count < 0:
        raise ValidationError("results_count must be >= 0")


def check_filter(flt: LearningFilter) -> None:
    if flt.since is not None and flt.until is not None and flt.since > flt.until:
        raise ValidationError("the time range starts after it ends; swap start and end")
    if not 1 <= flt.limit <= MAX_LOGS:
        raise ValidationError(f"limit must be between 1 and {MAX_LOGS}, got {flt.limit}")
    engine_types = [t for t in flt.event_types if is_engine_event(t)]
    if engine_types:
        raise ValidationError(
            f"learning analytics cover learning events only, not {', '.join(engine_types)}; "
            "a task's own events are at /api/v1/tasks/{task_id}/events"
        )


class LearningService:
    def __init__(self, store: LearningStore, events: EventSink, clock: Clock) -> None:
        self._store = store
        self._events = events
        self._clock = clock

    async def log(self, entry: LearningLog) -> LearningLog:
        """Store ``entry`` (its ``created_at`` is set here), then publish it."""
        check_learning_log(entry)
        entry = entry._replace(created_at=self._clock.now())
        await self._store.log_learning(entry)
        self._events.publish([entry.as_event()])
        return entry

    async def analytics(self, flt: LearningFilter) -> LearningSummary:
        check_filter(flt)
        return summarise(await self._store.learning_analytics(flt))
