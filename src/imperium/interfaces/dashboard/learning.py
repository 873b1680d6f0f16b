"""Learning: what the router believes per task type (each agent's posterior mean and 95%
interval), its drift alarms, the newest cycle's insights with their confidence, model
versions with their held-out AUC, Brier and MAE (charted from ``/ui/learning/models``),
recent cycles, a Trigger-cycle form (admin) and a predict form (the API's
``/api/v1/learning/predict``); and the router's decisions over time for one task type:
the attempts each agent got per time bucket and their success rate (charted from
``/ui/learning/decisions``)."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Sequence
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from starlette.responses import JSONResponse, Response

from imperium.domain.errors import ImperiumError
from imperium.interfaces.api.deps import ApiServices, services_of
from imperium.interfaces.dashboard.access import viewer, writer
from imperium.interfaces.dashboard.pages import finish, redirect, render
from imperium.interfaces.records import recommendation_dict
from imperium.ports import DecisionCount
from imperium.services.learning.service import alarm_dict, latest_insights

router = APIRouter(include_in_schema=False)

INSIGHTS = 50
MODELS = 50
CYCLES = 10
ALARMS = 50
MAX_TEXT = 200
HOUR = 3600.0
DECISION_HOURS = (24, 168)
BUCKETS = 60  # points per chart


def posteriors(services: ApiServices) -> dict[str, list[dict[str, Any]]]:
    """Per task type, each agent the router has seen: posterior mean, 95% interval,
    samples, typical duration (best first)."""
    r = services.learner.router
    by_type: dict[str, list[dict[str, Any]]] = {}
    for task_type, agent_id in sorted(r.arms):
        e = r.estimate(task_type, agent_id)
        by_type.setdefault(task_type, []).append(
            {"agent_id": agent_id, "success": e.success, "lower": e.lower,
             "upper": e.upper, "samples": e.samples, "duration": e.duration}
        )  # fmt: skip
    for rows in by_type.values():
        rows.sort(key=lambda row: (-row["success"], row["agent_id"]))
    return by_type


def decision_types(by_type: dict[str, list[dict[str, Any]]]) -> list[str]:
    """The task types the router has seen, busiest (most outcomes observed) first."""
    samples = {t: sum(row["samples"] for row in rows) for t, rows in by_type.items()}
    return sorted(samples, key=lambda t: (-samples[t], t))


def decision_columns(
    points: Sequence[DecisionCount], first: float, bucket: float, buckets: int
) -> dict[str, Any]:
    """Per agent (most attempts first), its attempts and success rate in each of the
    ``buckets + 1`` buckets starting at ``first``; the rate is ``None`` where the agent
    had no attempt that succeeded or failed (cancelled ones are in neither)."""
    starts = [first + i * bucket for i in range(buckets + 1)]
    agents: dict[str, list[DecisionCount | None]] = {}
    for p in points:
        i = round((p.start - first) / bucket)
        if 0 <= i <= buckets:
            agents.setdefault(p.agent_id, [None] * len(starts))[i] = p
    total = {a: sum(c.attempts for c in cells if c) for a, cells in agents.items()}
    rows = [
        {"agent_id": agent_id,
         "attempts": [c.attempts if c else 0 for c in agents[agent_id]],
         "success_rate": [_rate(c) for c in agents[agent_id]]}
        for agent_id in sorted(agents, key=lambda a: (-total[a], a))
    ]  # fmt: skip
    return {"bucket_seconds": bucket, "t": starts, "agents": rows}


def _rate(cell: DecisionCount | None) -> float | None:
    if cell is None or cell.succeeded + cell.failed == 0:
        return None
    return cell.succeeded / (cell.succeeded + cell.failed)


async def predict(services: ApiServices, task_type: str, complexity: str) -> dict[str, Any]:
    """The predict form's answer: the recommendation, or what prevents one."""
    if not task_type:
        return {"error": None, "recommendation": None}
    try:
        value = float(complexity or "1")
        if not math.isfinite(value):
            raise ValueError(complexity)
    except ValueError:
        problem = f"complexity must be a number between 0 and 1000, got {complexity!r}"
        return {"error": problem, "recommendation": None}
    try:
        rec = await services.learner.recommend(task_type, value, limit=5)
    except ImperiumError as exc:
        return {"error": str(exc), "recommendation": None}
    return {"error": None, "recommendation": recommendation_dict(rec)}


@router.get("/learning")
async def learning_page(request: Request) -> Response:
    who = await viewer(request)
    services = services_of(request.app)
    records = services.learning_records
    q = request.query_params
    task_type = q.get("task_type", "").strip()[:MAX_TEXT]
    complexity = q.get("complexity", "1").strip()[:MAX_TEXT]
    insights, models, cycles, prediction = await asyncio.gather(
        latest_insights(records, INSIGHTS, None),
        records.list_models(MODELS),
        records.list_cycles(CYCLES),
        predict(services, task_type, complexity),
    )
    r = services.learner.router
    beliefs = posteriors(services)
    types = decision_types(beliefs)
    chosen = q.get("decisions_type", "").strip()[:MAX_TEXT] or (types[0] if types else "")
    if chosen and chosen not in types:
        types.append(chosen)
    hours = q.get("decisions_hours", "")
    hours_shown = int(hours) if hours in {str(h) for h in DECISION_HOURS} else DECISION_HOURS[0]
    return render(
        request,
        who,
        "learning.html",
        mode=services.learner.mode,
        decisions=r.decisions,
        posteriors=beliefs,
        decision_types=types,
        decisions_type=chosen,
        decisions_hours=hours_shown,
        decision_hours=DECISION_HOURS,
        alarms=[alarm_dict(a) for a in list(r.alarms)[-ALARMS:]][::-1],
        insights=insights,
        models=models,
        current=services.learner.predictor.report,
        cycles=cycles,
        task_type=task_type,
        complexity=complexity,
        prediction=prediction,
        notice=q.get("notice", "")[:MAX_TEXT],
    )


@router.post("/learning/cycles")
async def trigger_cycle(request: Request) -> Response:
    who = await writer(request)
    try:
        cycle_id, started = await services_of(request.app).learner.trigger("manual")
    except ImperiumError as exc:
        notice = str(exc)
    else:
        notice = f"cycle {cycle_id} " + ("started" if started else "was already running")
    return redirect(request, who, "/learning?" + urlencode({"notice": notice}))


@router.get("/ui/learning/models")
async def model_series(request: Request) -> Response:
    """Held-out AUC, Brier score and MAE of log-duration per model version, oldest first,
    for uPlot (columns of values; ``null`` where the held-out data could not measure it)."""
    who = await viewer(request)
    models = await services_of(request.app).learning_records.list_models(MODELS)
    models = sorted(models, key=lambda m: m.trained_at)
    body = {
        "t": [m.trained_at for m in models],
        "auc": [m.auc for m in models],
        "brier": [m.brier for m in models],
        "mae_log_duration": [m.mae_log_duration for m in models],
        "versions": [m.version for m in models],
    }
    return finish(request, who, JSONResponse(body))


@router.get("/ui/learning/decisions")
async def decisions_series(
    request: Request,
    task_type: Annotated[str, Query(min_length=1, max_length=MAX_TEXT)],
    hours: Annotated[int, Query(ge=1, le=max(DECISION_HOURS))] = 24,
) -> Response:
    """The router's decisions over time: for ``task_type``, the attempts each agent got
    per bucket (``BUCKETS`` of them over the last ``hours``, by when the attempt finished)
    and its success rate there, for uPlot (columns of values)."""
    who = await viewer(request)
    bucket = hours * HOUR / BUCKETS
    first = (time.time() - hours * HOUR) // bucket * bucket
    statistics = services_of(request.app).statistics
    points = await statistics.decisions_series(task_type, first, bucket)
    body = {"task_type": task_type, **decision_columns(points, first, bucket, BUCKETS)}
    return finish(request, who, JSONResponse(body))
