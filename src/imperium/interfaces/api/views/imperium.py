"""The seed's JSON shapes for ``/api/imperium`` (records in, dicts out), and how its
``agent_type`` and its time ranges are read. Times are ISO 8601 strings in UTC.

The agents' metrics and the orchestrator's status are answered by the seed's agent
routes (``routes/imperium_seed.py``) and again inside its dashboard (``routes/learning.py``),
so they are built here, once."""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from imperium.agents.loader import REMOTE, available_types
from imperium.domain.custody import CustodyRecord
from imperium.domain.errors import ValidationError
from imperium.domain.learning import CycleStatus
from imperium.domain.models import AgentSpec
from imperium.domain.states import AgentStatus
from imperium.interfaces.api.ws_clients import EVENTS, LEARNING_ANALYTICS, WebSocketClients
from imperium.interfaces.records import iso
from imperium.ports import (
    AgentLearning,
    AgentStats,
    CustodyStore,
    CycleStore,
    LearningLog,
    LearningStore,
    QueryStore,
)
from imperium.services.agents import AgentService
from imperium.services.analytics import LearningSummary
from imperium.services.engine import Engine
from imperium.services.learning.service import Learner
from imperium.services.routines import Routines

PROTOCOL_VERSION = "2.0.0"  # the seed's registration protocol, which these routes implement
FEATURES = ["agent_registration", "persistence", "learning_analytics", "real_time_analytics"]
SEED_AGENT_TYPE = "seed_agent_type"  # config keys keeping what the seed's client sent
SEED_METADATA = "seed_metadata"
TIME_FORMATS = (
    "an ISO 8601 time like 2026-01-31T12:00:00Z or 2026-01-31T12:00:00+02:00 (no offset "
    "means UTC), a date like 2026-01-31 (its midnight UTC), or epoch seconds like 1769860800"
)


@dataclass(frozen=True, eq=False)
class SeedSources:
    """What the seed's agent metrics and orchestrator status are read from (wired once,
    in ``create_app``)."""

    agents: AgentService
    queries: QueryStore
    learning: LearningStore
    custody: CustodyStore
    cycles: CycleStore
    engine: Engine
    learner: Learner
    routines: Callable[[], Routines | None]
    learning_cycle_interval: float


def imperium_type(agent_type: str) -> str:
    """The Imperium type of a seed ``agent_type``: an installed type (``echo``) or an import
    path (``package.module:function``) runs inside this server; any other name (the seed's
    ``CustomAI``, ``guardian`` …) is a remote agent, which leases its tasks over /api/v1."""
    if agent_type in available_types() or ":" in agent_type:
        return agent_type
    return REMOTE


def seed_agent_type(spec: AgentSpec) -> str:
    value = spec.config.get(SEED_AGENT_TYPE)
    return value if isinstance(value, str) else spec.type


def agent_metrics(
    spec: AgentSpec,
    stats: AgentStats | None,
    learning: AgentLearning | None,
    custody: CustodyRecord | None = None,
) -> dict[str, Any]:
    executions = stats.executions if stats else 0
    cycles = learning.total_learning_cycles if learning else 0
    learned = learning if learning and cycles else None
    return {
        "agent_id": spec.id,
        "agent_type": seed_agent_type(spec),
        "learning_score": learned.learning_score if learned else None,
        "success_rate": stats.succeeded / executions if stats and executions else None,
        "failure_rate": stats.failed / executions if stats and executions else None,
        "executions": executions,
        "total_learning_cycles": cycles,
        "last_learning_cycle": iso(learned.last_learning_cycle) if learned else None,
        "last_success": iso(stats.last_success) if stats else None,
        "last_failure": iso(stats.last_failure) if stats else None,
        "learning_patterns": learned.learning_patterns if learned else [],
        "improvement_suggestions": learned.improvement_suggestions if learned else [],
        "status": str(spec.status),
        "is_active": spec.status is AgentStatus.ACTIVE,
        "priority": spec.priority,
        "capabilities": sorted(spec.capabilities),
        "metadata": spec.config.get(SEED_METADATA, {}),
        "xp": custody.xp if custody else 0,
        "level": custody.level if custody else 1,
        "created_at": iso(spec.created_at),
        "updated_at": iso(spec.updated_at),
    }


def summary(metrics: dict[str, dict[str, Any]]) -> dict[str, Any]:
    scores = [m["learning_score"] for m in metrics.values() if m["learning_score"] is not None]
    return {
        "total_agents": len(metrics),
        "active_agents": sum(1 for m in metrics.values() if m["is_active"]),
        "average_learning_score": sum(scores) / len(scores) if scores else None,
        "agent_types": sorted({m["agent_type"] for m in metrics.values()}),
    }


def now() -> str | None:
    return iso(time.time())


def parse_time(text: str, name: str) -> float:
    """Epoch seconds from ``text``; a ValidationError lists the accepted formats."""
    text = text.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if math.isfinite(seconds):
            return seconds
        raise ValidationError(f"{name} '{text}' is not a time; use {TIME_FORMATS}")
    # an unencoded '+' in a query string arrives as a space: 12:00:00 02:00
    candidates = [text, text[::-1].replace(" ", "+", 1)[::-1]] if " " in text else [text]
    for candidate in candidates:
        try:
            parsed = dt.datetime.fromisoformat(candidate)
        except ValueError:
            continue
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)
        return parsed.timestamp()
    raise ValidationError(f"{name} '{text}' is not a time; use {TIME_FORMATS}")


def log_dict(entry: LearningLog) -> dict[str, Any]:
    return {**entry._asdict(), "created_at": iso(entry.created_at)}


def analytics_dict(summary: LearningSummary) -> dict[str, Any]:
    return {
        "total_events": summary.total_events,
        "total_impact": summary.total_impact,
        "average_impact": summary.average_impact,
        "event_type_counts": summary.event_type_counts,
        "logs": [log_dict(entry) for entry in summary.logs],
        "agents": {
            agent_id: {
                "total_events": impact.events,
                "total_impact": impact.total_impact,
                "avg_impact": impact.average_impact,
            }
            for agent_id, impact in summary.agents.items()
        },
    }


async def metrics_of(sources: SeedSources, spec: AgentSpec) -> dict[str, Any]:
    """One agent's metrics, from its executions, learning cycles and custody record."""
    stats = await sources.queries.agent_stats(spec.id)
    learning = await sources.learning.agent_learning(spec.id)
    custody = await sources.custody.get_custody(spec.id)
    return agent_metrics(spec, stats.get(spec.id), learning.get(spec.id), custody)


async def all_metrics(sources: SeedSources, include_retired: bool) -> dict[str, dict[str, Any]]:
    """Every agent's metrics by id (retired agents only when asked)."""
    specs = await sources.agents.list()
    stats = await sources.queries.agent_stats()
    learning = await sources.learning.agent_learning()
    custody = {r.agent_id: r for r in await sources.custody.list_custody()}
    return {
        s.id: agent_metrics(s, stats.get(s.id), learning.get(s.id), custody.get(s.id))
        for s in specs
        if include_retired or s.status is not AgentStatus.RETIRED
    }


def agents_list(metrics: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``GET /api/imperium/agents``: the agents' metrics and their summary."""
    return {"agents": metrics, "summary": summary(metrics), "timestamp": now()}


async def status(sources: SeedSources, clients: WebSocketClients) -> dict[str, Any]:
    """``GET /api/imperium/status``: the learning orchestrator's view."""
    engine = sources.engine
    running = not engine.failed.is_set() and not engine.stopped.is_set()
    agents = summary(await all_metrics(sources, include_retired=False))
    last = await sources.cycles.list_cycles(1)
    learner = sources.learner
    routines = sources.routines()
    scheduled = routines is not None and routines.routines["learning"].active
    return {
        "status": "operational" if running else "stopped",
        "total_agents": agents["total_agents"],
        "active_agents": agents["active_agents"],
        "total_learning_cycles": await sources.cycles.count_cycles(CycleStatus.COMPLETED),
        "average_learning_score": agents["average_learning_score"],
        "last_cycle_start": iso(last[0].start_time) if last else None,
        "learning_scheduler_running": running and scheduled,
        "learning_mode": learner.mode,
        "learning_cycle_interval": sources.learning_cycle_interval,
        "learning_cycle_running": learner.running,
        "api_version": PROTOCOL_VERSION,
        "websocket_clients": {
            "learning_analytics": clients.count(LEARNING_ANALYTICS),
            "events": clients.count(EVENTS),
        },
        "supported_features": FEATURES,
        "last_updated": now(),
    }
