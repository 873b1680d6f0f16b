"""Learning: what the router believes per task type (each agent's posterior mean and 95%
interval), its drift alarms, the newest cycle's insights with their confidence, model
versions with their held-out AUC, Brier and MAE (charted from ``/ui/learning/models``),
recent cycles, a Trigger-cycle form (admin) and a predict form (the API's
``/api/v1/learning/predict``)."""

from __future__ import annotations

import asyncio
import math
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from imperium.domain.errors import ImperiumError
from imperium.interfaces.api.deps import ApiServices, services_of
from imperium.interfaces.dashboard.access import viewer, writer
from imperium.interfaces.dashboard.pages import finish, redirect, render
from imperium.interfaces.records import recommendation_dict
from imperium.services.learning.service import alarm_dict, latest_insights

router = APIRouter(include_in_schema=False)

INSIGHTS = 50
MODELS = 50
CYCLES = 10
ALARMS = 50
MAX_TEXT = 200


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
    return render(
        request,
        who,
        "learning.html",
        mode=services.learner.mode,
        decisions=r.decisions,
        posteriors=posteriors(services),
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
