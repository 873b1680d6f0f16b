"""Agents: each registered agent's status, load (from the engine's snapshot), recorded
success rate and mean duration (aggregated by the database), and whether the scheduler
could load its code (``not loaded`` with the reason); pause, resume and retire forms."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from starlette.responses import Response

from imperium.domain.errors import NotFoundError
from imperium.domain.states import AgentStatus
from imperium.interfaces.api.deps import services_of
from imperium.interfaces.dashboard.access import viewer, writer
from imperium.interfaces.dashboard.pages import redirect, render

router = APIRouter(include_in_schema=False)

ACTIONS = {"pause": AgentStatus.PAUSED, "resume": AgentStatus.ACTIVE, "retire": AgentStatus.RETIRED}


@router.get("/agents")
async def agent_list(request: Request) -> Response:
    who = await viewer(request)
    registry = services_of(request.app).agents
    specs, stats, loads = await asyncio.gather(registry.list(), registry.stats(), registry.loads())
    live = services_of(request.app).engine.snapshot()
    rows = [
        {
            "spec": spec,
            "live": live.agent(spec.id),
            "stats": stats.get(spec.id),
            "load": loads.get(spec.id),
        }
        for spec in specs
    ]
    return render(request, who, "agents.html", rows=rows)


@router.post("/agents/{agent_id}/{action}")
async def change_status(request: Request, agent_id: str, action: str) -> Response:
    who = await writer(request)
    status = ACTIONS.get(action)
    if status is None:
        raise NotFoundError(f"agents can be paused, resumed or retired, not {action!r}")
    await services_of(request.app).agents.set_status(agent_id, status)
    return redirect(request, who, "/agents")
