"""Agents: each registered agent's status, load (from the engine's snapshot), custody
level and XP, figures over the newest ``WINDOW`` attempts (success rate, duration
percentiles, tokens and cost, aggregated by the database over a bounded read of
``ix_agent_task_executions_finished_outcome``, so the page costs the same with millions of
attempts), and whether the scheduler could
load its code (``not loaded`` with the reason); the Autoscaling panel (``autoscaling``);
the Usage panel (tokens and cost per task type and per UTC day over the same newest
``WINDOW`` attempts, a bounded read; the whole days are ``/api/v1/usage``'s; and each daily
budget); the Result cache panel (hits, misses and what they saved, per task type, from the
cache's store); pause, resume, retire and register forms."""

from __future__ import annotations

import asyncio
from urllib.parse import urlencode

import pydantic
from fastapi import APIRouter, Request
from starlette.responses import Response

from imperium.domain.errors import ImperiumError, NotFoundError
from imperium.domain.states import AgentStatus
from imperium.interfaces.api.deps import services_of
from imperium.interfaces.api.metrics import cache_report, cache_stats
from imperium.interfaces.api.schemas import AgentIn
from imperium.interfaces.dashboard.access import form, viewer, writer
from imperium.interfaces.dashboard.autoscaling import autoscaling
from imperium.interfaces.dashboard.pages import redirect, render

router = APIRouter(include_in_schema=False)

ACTIONS = {"pause": AgentStatus.PAUSED, "resume": AgentStatus.ACTIVE, "retire": AgentStatus.RETIRED}
WINDOW = 5000


@router.get("/agents")
async def agent_list(request: Request) -> Response:
    who = await viewer(request)
    services = services_of(request.app)
    registry = services.agents
    specs, recent, loads, custody, scaling = await asyncio.gather(
        registry.list(),
        services.statistics.agent_window(WINDOW),
        registry.loads(),
        services.custody_records.list_custody(),
        autoscaling(services),
    )
    (by_type, by_day), budgets, cached = await asyncio.gather(
        services.usage.recent(WINDOW), services.usage.budgets(), cache_stats(services.engine)
    )
    live = services.engine.snapshot()
    levels = {r.agent_id: r for r in custody}
    rows = [
        {
            "spec": spec,
            "live": live.agent(spec.id),
            "figures": recent.get(spec.id),
            "load": loads.get(spec.id),
            "custody": levels.get(spec.id),
        }
        for spec in specs
    ]
    return render(
        request,
        who,
        "agents.html",
        rows=rows,
        window=WINDOW,
        autoscaling=scaling,
        usage={"by_type": by_type, "by_day": by_day, "budgets": budgets},
        cache=cache_report(services.engine, cached),
        notice=request.query_params.get("notice", "")[:300],
    )


@router.post("/agents")
async def register(request: Request) -> Response:
    who = await writer(request)
    fields = await form(request)
    capabilities = [c.strip() for c in fields.get("capabilities", "").split(",") if c.strip()]
    try:
        body = AgentIn(
            agent_id=fields.get("agent_id", "").strip(),
            type=fields.get("type", "").strip(),
            capabilities=capabilities,
            max_concurrency=int(fields.get("max_concurrency", "1") or "1"),
        )
        spec = await services_of(request.app).agents.register(body.to_spec())
    except (pydantic.ValidationError, ValueError) as exc:
        notice = "not registered: " + _first_error(exc)
    except ImperiumError as exc:
        notice = f"not registered: {exc}"
    else:
        notice = f"agent {spec.id} registered"
    return redirect(request, who, "/agents?" + urlencode({"notice": notice}))


def _first_error(exc: Exception) -> str:
    if isinstance(exc, pydantic.ValidationError):
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"])
        return f"{where}: {error['msg']}"
    return "max concurrency must be a whole number"


@router.post("/agents/{agent_id}/{action}")
async def change_status(request: Request, agent_id: str, action: str) -> Response:
    who = await writer(request)
    status = ACTIONS.get(action)
    if status is None:
        raise NotFoundError(f"agents can be paused, resumed or retired, not {action!r}")
    await services_of(request.app).agents.set_status(agent_id, status)
    return redirect(request, who, "/agents")
