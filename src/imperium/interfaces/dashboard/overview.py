"""The overview: live counts from the engine's census, the last hour from the database's
aggregates, the scheduler lock, the database, the routines, dispatch latency, and the
throughput and success-rate series the chart draws (``/ui/series``)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import JSONResponse, Response

from imperium.domain.states import AgentStatus, Outcome
from imperium.interfaces.api.deps import ApiServices, services_of
from imperium.interfaces.api.metrics import DATABASE_TIMEOUT, describe
from imperium.interfaces.dashboard.access import viewer
from imperium.interfaces.dashboard.pages import finish, render
from imperium.interfaces.dashboard.series import SeriesCache
from imperium.services.engine.census import Census

router = APIRouter(include_in_schema=False)

HOUR = 3600.0
FAILED = (Outcome.FAILED, Outcome.TIMED_OUT, Outcome.LOST)
SERIES_HOURS = (1, 6, 24, 168)
BUCKETS = 60  # points per chart


@dataclass(frozen=True)
class Overview:
    census: Census
    last_hour: dict[str, int]
    agents: dict[str, int]
    scheduler: dict[str, Any]
    database: dict[str, Any]
    routines: list[dict[str, Any]]
    latency: Any  # api.metrics.Latency: dispatch latency in this process


async def overview(request: Request) -> Overview:
    services = services_of(request.app)
    database, lock = await _database(services)
    last_hour = await _last_hour(services) if database["status"] == "ok" else {}
    return Overview(
        census=services.engine.snapshot().census,
        last_hour=last_hour,
        agents=_agents(services),
        scheduler=_scheduler(services, lock),
        database=database,
        routines=_routines(services),
        latency=request.app.state.metrics.latency(),
    )


async def _database(services: ApiServices) -> tuple[dict[str, Any], Any]:
    """Whether the database answers (one indexed read: the scheduler lock, returned)."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(DATABASE_TIMEOUT):
            lock = await services.locks.read_lock()
    except Exception as exc:  # shown on the page rather than failing it
        return {"status": "error", "error": describe(exc)}, None
    if services.engine.journal.outage is not None:
        return {
            "status": "error",
            "error": f"writes failing: {services.engine.journal.outage}",
        }, lock
    latency_ms = round((time.perf_counter() - started) * 1000, 2)
    return {"status": "ok", "latency_ms": latency_ms}, lock


async def _last_hour(services: ApiServices) -> dict[str, int]:
    since = time.time() - HOUR
    series, dead = await asyncio.gather(
        services.statistics.outcome_series(since, HOUR), services.statistics.count_dead_since(since)
    )
    counts = dict.fromkeys(Outcome, 0)
    for point in series:
        counts[point.outcome] += point.count
    return {
        "succeeded": counts[Outcome.SUCCEEDED],
        "failed": sum(counts[o] for o in FAILED),
        "cancelled": counts[Outcome.CANCELLED],
        "dead": dead,
    }


def _agents(services: ApiServices) -> dict[str, int]:
    agents = services.engine.snapshot().agents
    active = [a for a in agents if a.spec.status is AgentStatus.ACTIVE]
    return {
        "total": len(agents),
        "online": sum(1 for a in active if a.online),
        "paused": sum(1 for a in agents if a.spec.status is AgentStatus.PAUSED),
        "running": sum(a.running for a in agents),
    }


def _scheduler(services: ApiServices, lock: Any) -> dict[str, Any]:
    engine = services.engine
    return {
        "status": engine.scheduler_status(lock.owner if lock is not None else None),
        "owner": engine.lock.owner,
        "holder": lock.owner if lock is not None else None,
        "expires_at": lock.expires_at if lock is not None else None,
    }


def _routines(services: ApiServices) -> list[dict[str, Any]]:
    routines = services.routines()
    return routines.snapshot() if routines is not None else []


@router.get("/")
async def overview_page(request: Request) -> Response:
    who = await viewer(request)
    return render(request, who, "overview.html", o=await overview(request), hours=SERIES_HOURS)


@router.get("/ui/overview")
async def overview_fragment(request: Request) -> Response:
    """The live part of the overview, which the page swaps in when events arrive."""
    who = await viewer(request)
    return render(request, who, "_overview_live.html", o=await overview(request))


@router.get("/ui/series")
async def series(
    request: Request, hours: Annotated[int, Query(ge=1, le=max(SERIES_HOURS))] = 1
) -> Response:
    """Attempts finished per bucket (``BUCKETS`` of them over the last ``hours``): the
    throughput (succeeded, failed) and the success rate, for uPlot (columns of values)."""
    who = await viewer(request)
    bucket = hours * HOUR / BUCKETS
    now = time.time()
    first = (now - hours * HOUR) // bucket * bucket
    cache: SeriesCache = request.app.state.dashboard_series
    fetch = services_of(request.app).statistics.outcome_series
    counts = await cache.counts(fetch, first, bucket, BUCKETS, now)
    starts = [first + i * bucket for i in range(BUCKETS + 1)]
    succeeded = [c.get(Outcome.SUCCEEDED, 0) for c in counts]
    failed = [sum(c.get(o, 0) for o in FAILED) for c in counts]
    rate = [s / (s + f) if s + f else None for s, f in zip(succeeded, failed, strict=True)]
    body = {
        "bucket_seconds": bucket,
        "t": starts,
        "succeeded": succeeded,
        "failed": failed,
        "success_rate": rate,
    }
    return finish(request, who, JSONResponse(body))
