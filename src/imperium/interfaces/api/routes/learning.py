"""Learning over HTTP: the seed's cycle and dashboard routes under ``/api/imperium``, and
Imperium's own under ``/api/v1/learning`` (recommendations, insights, model versions,
cycles). Everything shown is read from stored rows or the router's live posteriors."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from imperium.domain.learning import InsightType
from imperium.interfaces.api.deps import AppSettings, Learning, LearningRecords, Seed
from imperium.interfaces.api.schemas import problems
from imperium.interfaces.api.views.imperium import all_metrics, now, status
from imperium.interfaces.api.ws_clients import websocket_clients
from imperium.interfaces.records import (
    cycle_dict,
    insight_dict,
    model_report_dict,
    overview_dict,
    recommendation_dict,
)
from imperium.ports import CycleStore
from imperium.services.learning.overview import overview
from imperium.services.learning.service import Learner, latest_insights

seed_router = APIRouter(prefix="/api/imperium", tags=["imperium (seed)"])
router = APIRouter(prefix="/api/v1/learning", tags=["learning"])

Limit = Annotated[int, Query(ge=1, le=100, description="How many, newest first.")]


async def _cycles(records: CycleStore, limit: int) -> list[dict[str, Any]]:
    return [cycle_dict(c) for c in await records.list_cycles(limit)]


async def _trigger(learner: Learner) -> tuple[dict[str, Any], int]:
    cycle_id, started = await learner.trigger("manual")
    body = {
        "status": "started" if started else "already_running",
        "message": (
            "learning cycle started; GET /api/imperium/cycles shows it when it ends"
            if started
            else "a learning cycle is already running; this is its id"
        ),
        "cycle_id": cycle_id,
        "timestamp": now(),
    }
    return body, 202 if started else 200


# ---------------------------------------------------------------------- seed routes
@seed_router.post("/cycles/trigger", status_code=202, responses=problems(409))
async def imperium_trigger_cycle(learner: Learning) -> JSONResponse:
    """Start a learning cycle now (in the background). 202 with its ``cycle_id``; 200 with
    the running cycle's id when one is already running; 409 when learning is disabled."""
    body, status = await _trigger(learner)
    return JSONResponse(body, status_code=status)


@seed_router.get("/cycles")
async def imperium_cycles(records: LearningRecords, limit: Limit = 10) -> dict[str, Any]:
    """Recent learning cycles, newest first (running and failed ones included)."""
    return {"cycles": await _cycles(records, limit), "limit": limit, "timestamp": now()}


@seed_router.get("/persistence/learning-cycles")
async def imperium_persisted_cycles(records: LearningRecords, limit: Limit = 10) -> dict[str, Any]:
    """The stored ``learning_cycles`` rows, newest first."""
    cycles = await _cycles(records, limit)
    return {"status": "success", "data": {"cycles": cycles, "count": len(cycles)}}


@seed_router.get("/dashboard")
async def imperium_dashboard(
    request: Request, records: LearningRecords, seed: Seed, settings: AppSettings
) -> dict[str, Any]:
    """The seed's dashboard: system status, agents' metrics, recent cycles, and the
    dashboard figures (success trend, rankings, insights, model accuracy) computed from
    the newest executions."""
    data = await overview(records, settings.learning_history)
    return {
        "system_status": await status(seed, websocket_clients(request.app)),
        "agent_metrics": await all_metrics(seed, include_retired=False),
        "recent_cycles": [cycle_dict(c) for c in data.cycles],
        "dashboard_metrics": overview_dict(data),
        "timestamp": now(),
    }


# ---------------------------------------------------------------------- /api/v1/learning
@router.get("/predict", responses=problems(404, 409, 422))
async def learning_predict(
    learner: Learning,
    task_type: Annotated[str, Query(min_length=1, max_length=200)],
    complexity: Annotated[float, Query(ge=0, le=1000)] = 1.0,
    alternatives: Annotated[int, Query(ge=0, le=20)] = 4,
) -> dict[str, Any]:
    """The agent most likely to do a task of this type and complexity well (the seed's
    recommendation shape). ``confidence`` is the posterior probability that the agent has
    the highest success rate among those able to take the task."""
    rec = await learner.recommend(task_type, complexity, limit=alternatives + 1)
    return recommendation_dict(rec)


@router.get("/insights")
async def learning_insights(
    records: LearningRecords,
    insight_type: Annotated[InsightType | None, Query(alias="type")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    cycle_id: Annotated[str | None, Query(max_length=36)] = None,
) -> dict[str, Any]:
    """The insights of the newest completed learning cycle (or of ``cycle_id``), most
    confident first; each with its sample size and a confidence in [0, 1]."""
    if cycle_id is not None:
        found = await records.list_insights(limit, insight_type, cycle_id)
    else:
        found = await latest_insights(records, limit, insight_type)
    return {"insights": [insight_dict(i) for i in found], "count": len(found)}


@router.get("/models")
async def learning_models(
    records: LearningRecords, learner: Learning, limit: Limit = 10
) -> dict[str, Any]:
    """Model versions with their accuracy on held-out executions, newest first; ``current``
    is the version this server predicts with."""
    reports = await records.list_models(limit)
    current = learner.predictor.report
    return {
        "models": [model_report_dict(m) for m in reports],
        "current": model_report_dict(current) if current else None,
    }


@router.get("/cycles")
async def learning_cycles(records: LearningRecords, limit: Limit = 10) -> dict[str, Any]:
    return {"cycles": await _cycles(records, limit)}


@router.post("/cycles", status_code=202, responses=problems(409))
async def learning_trigger(learner: Learning) -> JSONResponse:
    """Start a learning cycle (as ``POST /api/imperium/cycles/trigger``)."""
    body, status = await _trigger(learner)
    return JSONResponse(body, status_code=status)


@router.get("/router")
async def learning_router(
    learner: Learning, task_type: Annotated[str | None, Query(max_length=200)] = None
) -> dict[str, Any]:
    """The router's live state: mode, decisions made, and per (task type, agent) what it
    believes (posterior mean, 95% interval, attempts, typical duration, mean recorded
    cost per attempt: the figures the cost term weighs); recent drift alarms."""
    from imperium.services.learning.service import alarm_dict

    r = learner.router
    arms = []
    for (kind, agent_id), _arm in sorted(r.arms.items()):
        if task_type is not None and kind != task_type:
            continue
        e = r.estimate(kind, agent_id)
        arms.append(
            {
                "task_type": kind,
                "agent_id": agent_id,
                "success": round(e.success, 4),
                "interval": [round(e.lower, 4), round(e.upper, 4)],
                "samples": e.samples,
                "duration": None if e.duration is None else round(e.duration, 4),
                "cost": None if e.cost is None else round(e.cost, 10),
            }
        )
    return {
        "mode": learner.mode,
        "decisions": r.decisions,
        "arms": arms,
        "drift_alarms": [alarm_dict(a) for a in list(r.alarms)[-50:]],
    }
