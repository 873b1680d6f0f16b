"""/api/imperium: the Imperium Master Orchestrator's routes (the seed), over real data.

Thin adapters with the seed's paths and field names over Imperium's agent registry and
store. What the seed made up is either computed from stored rows or ``null``:

- success and failure rates, last success and last failure come from the recorded
  executions (``agent_task_executions``); with no execution the rates are ``null``;
- learning figures (``learning_score``, ``last_learning_cycle``, ``learning_patterns``,
  ``improvement_suggestions``) are read from ``agent_metrics`` as learning cycles leave
  them; before an agent's first cycle (``total_learning_cycles`` 0) the score and the time
  are ``null`` and the lists empty;
- ``xp`` and ``level`` come from the custody protocol (0 and 1 for an untested agent);
- times are ISO 8601 strings in UTC, as everywhere in the API.

Status codes follow the seed where its clients rely on them: 200 for a registration and a
logged event, 400 for a registration body it cannot accept; otherwise Imperium's (404, 409,
422). Learning cycles and the dashboard are in ``learning.py``; internet learning and
trusted sources in ``internet_learning.py``.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError as PydanticValidationError

from imperium.agents.loader import REMOTE
from imperium.domain.errors import ValidationError
from imperium.domain.models import AgentSpec
from imperium.domain.states import AgentStatus
from imperium.interfaces.api.deps import Agents, LearningLogs, Seed
from imperium.interfaces.api.limits import first_violation, is_json_media_type, violation_problem
from imperium.interfaces.api.problems import problem
from imperium.interfaces.api.schemas import problems
from imperium.interfaces.api.schemas.imperium import LearningEventIn, SeedAgentIn
from imperium.interfaces.api.views.imperium import (
    PROTOCOL_VERSION,
    SEED_AGENT_TYPE,
    SEED_METADATA,
    TIME_FORMATS,
    SeedSources,
    agents_list,
    all_metrics,
    analytics_dict,
    imperium_type,
    metrics_of,
    now,
    parse_time,
    status,
)
from imperium.interfaces.api.ws_clients import websocket_clients
from imperium.interfaces.records import iso
from imperium.interfaces.specs import describe
from imperium.ports import LearningFilter
from imperium.services.analytics import MAX_LOGS

router = APIRouter(prefix="/api/imperium", tags=["imperium (seed)"])

PRESERVED = ["executions", "events", "agent_metrics"]


# ------------------------------------------------------------------------------ agents
@router.post(
    "/agents/register",
    responses={
        400: {"description": "The body is not a valid registration."},
        **problems(409, 422),
        415: {"description": "The body is not sent as JSON (Content-Type)."},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": SeedAgentIn.model_json_schema()}},
        }
    },
)
async def imperium_register_agent(request: Request, agents: Agents) -> Any:
    """Register an agent (answers 200, as the seed did). ``agent_type`` maps onto Imperium's
    type: an installed type or an import path runs in this server (an import path that
    cannot be imported is a 422); any other name registers a **remote** agent, which leases
    tasks over /api/v1, keeping the name as its ``agent_type``. Capabilities default to
    the agent id. The seed's ``agent_type`` and ``metadata`` are kept in the agent's config
    (``seed_agent_type``, ``seed_metadata``). A missing or invalid field is a 400, an id
    already registered (even retired) a 409."""
    _require_json(request, "the registration")
    try:
        data = orjson.loads(await request.body())  # deep nesting is an error, not a crash
    except orjson.JSONDecodeError as exc:
        return _invalid_registration(f"the body is not JSON ({exc})")
    if (violation := first_violation(data)) is not None:
        return violation_problem(violation)  # as the limits middleware answers
    try:
        body = SeedAgentIn.model_validate(data)
    except PydanticValidationError as exc:
        return _invalid_registration(describe(exc))
    spec = AgentSpec(
        id=body.agent_id,
        type=imperium_type(body.agent_type),
        capabilities=frozenset(body.capabilities),
        priority=body.priority,
        config={SEED_AGENT_TYPE: body.agent_type, SEED_METADATA: body.metadata},
    )
    spec = await agents.register(spec)
    where = (
        "a remote agent: it takes tasks by leasing them over /api/v1"
        if spec.type == REMOTE
        else f"type '{spec.type}', running in this server"
    )
    return {
        "status": "success",
        "message": f"Agent {spec.id} registered as {where}",
        "agent_id": spec.id,
        "agent_type": body.agent_type,
        "imperium_type": spec.type,
        "priority": spec.priority,
        "capabilities": sorted(spec.capabilities),
        "metadata": body.metadata,
        "registration_timestamp": iso(spec.created_at),
        "protocol_version": PROTOCOL_VERSION,
    }


def _invalid_registration(detail: str) -> JSONResponse:
    return problem(
        400,
        "Bad Request",
        f"the registration is invalid: {detail}; send "
        '{"agent_id": "...", "agent_type": "...", "priority": "high|medium|low"}',
    )


def _require_json(request: Request, what: str) -> None:
    """A body not declared JSON is a 415, unread: a browser form can post text/plain across
    sites without asking, and such a body would skip the limits middleware."""
    if not is_json_media_type(request.headers.get("content-type")):
        raise HTTPException(
            415, f"send {what} as JSON, with the header Content-Type: application/json"
        )


@router.get("/agents")
async def imperium_list_agents(
    seed: Seed,
    include_retired: Annotated[bool, Query(description="Also list retired agents.")] = False,
) -> dict[str, Any]:
    """Every agent (retired ones only if asked) with its metrics, and a summary:
    ``average_learning_score`` averages the agents that have a score (``null`` if none)."""
    return agents_list(await all_metrics(seed, include_retired))


@router.get("/agents/{agent_id}", responses=problems(404))
async def imperium_get_agent(agent_id: str, seed: Seed) -> dict[str, Any]:
    """One agent's metrics (a retired one too: its history is kept). In ``analysis``,
    ``recommendations`` are the stored improvement suggestions; ``performance_trend`` and
    ``learning_efficiency`` are ``null`` until learning cycles measure them."""
    metrics = await metrics_of(seed, await seed.agents.get(agent_id))
    times = [metrics[k] for k in ("updated_at", "last_success", "last_failure") if metrics[k]]
    analysis = {
        "performance_trend": None,
        "recommendations": metrics["improvement_suggestions"],
        "last_activity": max(times),  # ISO strings in UTC sort as times
        "learning_efficiency": None,
    }
    return {"agent": metrics, "analysis": analysis, "timestamp": now()}


@router.delete("/agents/{agent_id}", responses=problems(404, 409))
async def imperium_unregister_agent(agent_id: str, agents: Agents) -> dict[str, Any]:
    """Retire the agent: it gets no new tasks, and its history is kept. A retired agent
    cannot change again (409)."""
    spec = await agents.set_status(agent_id, AgentStatus.RETIRED)
    return {
        "status": "success",
        "message": f"Agent {agent_id} retired: it receives no new tasks; its history "
        "(executions, events and metrics) is kept",
        "agent_id": agent_id,
        "agent_status": str(spec.status),
        "unregistration_timestamp": iso(spec.updated_at),
        "preserved_data": PRESERVED,
    }


@router.post("/agents/{agent_id}/pause", responses=problems(404, 409))
async def imperium_pause_agent(agent_id: str, agents: Agents) -> dict[str, Any]:
    """Give the agent no new tasks (those it runs finish); pausing twice is harmless."""
    spec = await agents.set_status(agent_id, AgentStatus.PAUSED)
    return {
        "status": "success",
        "message": f"Agent {agent_id} paused: it receives no new tasks until resumed",
        "agent_id": agent_id,
        "agent_status": str(spec.status),
        "pause_timestamp": iso(spec.updated_at),
        "resume_available": True,
    }


@router.post("/agents/{agent_id}/resume", responses=problems(404, 409))
async def imperium_resume_agent(agent_id: str, agents: Agents) -> dict[str, Any]:
    """Give the agent tasks again. (The seed answered ``status: "active"`` here by a
    duplicate key; ``status`` is ``success`` and the agent's is ``agent_status``.)"""
    spec = await agents.set_status(agent_id, AgentStatus.ACTIVE)
    return {
        "status": "success",
        "message": f"Agent {agent_id} resumed",
        "agent_id": agent_id,
        "agent_status": str(spec.status),
        "resume_timestamp": iso(spec.updated_at),
    }


# ------------------------------------------------------------------------------ status
@router.get("/status")
async def imperium_status(request: Request, seed: Seed) -> dict[str, Any]:
    """The learning orchestrator's view (``/api/status`` is the whole server's): agents,
    WebSocket clients, learning cycles (completed ones counted; ``learning_cycle_running``
    is the id of one in progress) and the router's mode."""
    return await status(seed, websocket_clients(request.app))


# ------------------------------------------------------------------------- persistence
@router.get("/persistence/agent-metrics", responses=problems(404))
async def imperium_persisted_metrics(seed: Seed, agent_id: str | None = None) -> dict[str, Any]:
    """Metrics as stored, computed when read: one agent's, or every agent's by id (retired
    ones included)."""
    return {"status": "success", "data": await _metrics_data(seed, agent_id)}


@router.post(
    "/persistence/agent-metrics",
    responses={**problems(404, 422), 415: {"description": "The body is not sent as JSON."}},
)
async def imperium_persist_metrics(
    request: Request,
    seed: Seed,
    body: Annotated[
        Any,
        Body(
            description='An agent id as a bare JSON string ("imperium"), {"agent_id": ...}, '
            "or nothing for every agent."
        ),
    ] = None,
) -> dict[str, Any]:
    """The seed's "persist metrics": Imperium's metrics are computed from stored executions
    whenever they are read, so nothing is waiting to be written; this answers the metrics
    as stored now."""  # fmt: skip
    if body is not None:
        _require_json(request, "the agent id")
    agent_id = _metrics_target(body)
    return {
        "status": "success",
        "message": "metrics are derived from stored executions when read; they are current",
        "data": await _metrics_data(seed, agent_id),
    }


def _metrics_target(body: Any) -> str | None:
    if body is None or body == {}:
        return None
    if isinstance(body, str) and body:
        return body
    if isinstance(body, dict) and set(body) == {"agent_id"} and isinstance(body["agent_id"], str):
        return str(body["agent_id"])
    raise ValidationError(
        'send an agent id as a JSON string ("imperium") or {"agent_id": "imperium"}, '
        "or no body for every agent"
    )


async def _metrics_data(seed: SeedSources, agent_id: str | None) -> dict[str, Any]:
    if agent_id is None:
        return await all_metrics(seed, include_retired=True)
    return await metrics_of(seed, await seed.agents.get(agent_id))


# --------------------------------------------------------------------------- analytics
@router.get("/persistence/learning-analytics", responses=problems(422))
async def imperium_learning_analytics(
    learning: LearningLogs,
    agent_id: str | None = None,
    time_range_start: Annotated[str | None, Query(description=TIME_FORMATS)] = None,
    time_range_end: Annotated[str | None, Query(description=f"Inclusive; {TIME_FORMATS}")] = None,
    event_types: Annotated[str | None, Query(description="Comma-separated, e.g. a,b")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LOGS, description="Most recent logs to list.")] = 50,
) -> dict[str, Any]:
    """Analytics of the stored learning events (every type outside ``task.``, ``agent.``,
    ``scheduler.``): totals over all that match, computed by the database, and the ``limit``
    most recent in ``logs``. ``average_impact`` is ``null`` when nothing matched; events
    with no agent count in the totals but not under ``agents``."""
    flt = LearningFilter(
        agent_id=agent_id,
        event_types=tuple(t.strip() for t in (event_types or "").split(",") if t.strip()),
        since=parse_time(time_range_start, "time_range_start") if time_range_start else None,
        until=parse_time(time_range_end, "time_range_end") if time_range_end else None,
        limit=limit,
    )
    return {"status": "success", "data": analytics_dict(await learning.analytics(flt))}


@router.post("/persistence/log-learning-event", responses=problems(422))
async def imperium_log_learning_event(
    body: LearningEventIn, learning: LearningLogs
) -> dict[str, Any]:
    """Store a learning event in ``learning_logs`` and send it to WebSocket clients
    (answers 200, as the seed did)."""
    entry = await learning.log(body.to_log())
    return {
        "status": "success",
        "message": f"learning event '{entry.event_type}' stored",
        "data": {
            "event_type": entry.event_type,
            "agent_id": entry.agent_id,
            "created_at": iso(entry.created_at),
        },
    }
