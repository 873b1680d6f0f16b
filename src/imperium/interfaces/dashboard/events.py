"""Live events: committed events as they arrive over ``/ui/events`` (the page's script
puts each at the top of the list, newest first)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from imperium.interfaces.dashboard.access import viewer
from imperium.interfaces.dashboard.pages import render

router = APIRouter(include_in_schema=False)


@router.get("/events")
async def event_page(request: Request) -> Response:
    who = await viewer(request)
    return render(request, who, "events.html")
