"""The Agents page's Autoscaling panel: the pools under autoscaling as ``/swarm/status``
shows them (the same ``Autoscaler``, through the swarm service), and the newest
``swarm.scaled`` decisions with the numbers behind them.

The decisions are read with the learning store's analytics query (``swarm.scaled`` is
outside the engine's namespaces, so its rows are in the partial index of learning
events), bounded to the last ``HISTORY_SECONDS`` and the newest ``SHOWN`` rows."""

from __future__ import annotations

from dataclasses import dataclass

from imperium.domain.models import JSON
from imperium.interfaces.api.deps import ApiServices
from imperium.ports import LearningFilter, LearningLog
from imperium.services.swarm.autoscaler import Pool

SCALED = "swarm.scaled"
SHOWN = 8
HISTORY_SECONDS = 24 * 3600.0


@dataclass(frozen=True, slots=True)
class ScaledRow:
    """One ``swarm.scaled`` event as the panel lists it (``None`` where the event's data
    lacks a field: events are stored JSON, not checked when read)."""

    at: float
    agent_id: str | None
    action: str | None
    before: int | None
    after: int | None
    trigger: str | None
    reason: str | None
    backlog: float | None
    wait: float | None
    running: int | None


@dataclass(frozen=True, slots=True)
class Autoscaling:
    pools: list[Pool]
    decisions: list[ScaledRow]
    """Newest first, at most ``SHOWN``."""
    decided: int
    """``swarm.scaled`` events in the last ``HISTORY_SECONDS``."""
    now: float


async def autoscaling(services: ApiServices) -> Autoscaling:
    now = services.engine.clock.now()
    flt = LearningFilter(event_types=(SCALED,), since=now - HISTORY_SECONDS, limit=SHOWN)
    summary = await services.learning_logs.analytics(flt)
    return Autoscaling(
        pools=services.swarm.autoscaler.pools(),
        decisions=[scaled_row(log) for log in summary.logs],
        decided=summary.total_events,
        now=now,
    )


def scaled_row(log: LearningLog) -> ScaledRow:
    data = log.event_data if isinstance(log.event_data, dict) else {}
    return ScaledRow(
        at=log.created_at,
        agent_id=log.agent_id,
        action=_text(data.get("action")),
        before=_whole(data.get("before")),
        after=_whole(data.get("after")),
        trigger=_text(data.get("trigger")),
        reason=_text(data.get("reason")),
        backlog=_number(data.get("backlog")),
        wait=_number(data.get("wait")),
        running=_whole(data.get("running")),
    )


def _text(value: JSON) -> str | None:
    return value if isinstance(value, str) else None


def _number(value: JSON) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _whole(value: JSON) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
