"""Teams and combinations: recent team tasks (one task given to several agents) and every
combination of agents with recorded team outcomes, best first (what the router learned)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from imperium.interfaces.api.deps import services_of
from imperium.interfaces.dashboard.access import viewer
from imperium.interfaces.dashboard.pages import render

router = APIRouter(include_in_schema=False)

LISTED = 50


@router.get("/teams")
async def team_page(request: Request) -> Response:
    who = await viewer(request)
    teams = services_of(request.app).teams
    runs = await teams.teams.list_teams(None, None, LISTED, 0)
    return render(request, who, "teams.html", runs=runs, combinations=teams.combinations(None))
