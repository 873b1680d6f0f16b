"""Dependencies shared by the routers: the runtime, and the services that more than one
route module asks for (each built per request over the runtime's parts)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from imperium.runtime import Imperium
from imperium.services.planning.service import PlanningService
from imperium.services.swarm.service import SwarmService


async def get_runtime(request: Request) -> Imperium:
    """Async, so FastAPI calls it on the event loop (a plain ``def`` dependency is run
    in its thread pool, on every request)."""
    runtime: Imperium = request.app.state.runtime
    return runtime


Runtime = Annotated[Imperium, Depends(get_runtime)]


async def get_swarm(runtime: Runtime) -> SwarmService:
    return SwarmService(runtime.engine, runtime.agents, runtime.store)


Swarm = Annotated[SwarmService, Depends(get_swarm)]
"""The swarm's slots, queues and batches (``/api/v1/swarm``, ``/api/v1/orchestrate``)."""


async def get_planning(runtime: Runtime) -> PlanningService:
    return PlanningService(runtime.engine, runtime.agents, runtime.store)


Planning = Annotated[PlanningService, Depends(get_planning)]
"""The L20 planning calculations (``/api/v1/l20``)."""
