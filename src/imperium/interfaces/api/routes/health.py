"""Health and status (the seed's routes): ``/api/health`` (is the scheduler running and the
database answering), ``/api/status`` (what the system is doing), ``/api/agents/status``
(each agent's load and record) and ``/api/database/health`` (the database in detail).

Every figure is read when asked (the database report is reused for up to 10 s): counts
from the database, queues and agent load from the scheduler's memory. A database that does
not answer is a 503 that says why, never a 500. ``/api/health`` needs no key (probes), so
while keys are in force a caller without one learns only ``status`` and ``timestamp``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from imperium import __version__
from imperium.adapters.storage.diagnostics import DatabaseReport
from imperium.domain.models import AgentSpec, AgentState
from imperium.domain.states import AgentStatus
from imperium.interfaces.api.auth import PUBLIC
from imperium.interfaces.api.deps import (
    Agents,
    DatabaseReports,
    Events,
    Keys,
    Locks,
    Queries,
    Scheduler,
    Schedules,
)
from imperium.interfaces.api.metrics import (
    DATABASE_TIMEOUT,
    Metrics,
    cache_report,
    cache_stats,
    describe,
    from_database,
    live,
    named,
    stored,
)
from imperium.interfaces.api.schemas import problems
from imperium.interfaces.records import iso, load_fields
from imperium.ports import AgentLoad, AgentStats, LockInfo
from imperium.services.engine import Engine
from imperium.services.engine.recovery import REMOTE_TYPE
from imperium.services.keys import KeyService
from imperium.services.routines import Routines

router = APIRouter(tags=["health"])


@router.get("/api/health")
async def health(
    engine: Scheduler,
    locks: Locks,
    keys: Keys,
    request: Request,
) -> JSONResponse:
    """200 when the scheduler runs and the database answers (one indexed read), else 503."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(DATABASE_TIMEOUT):
            await locks.read_lock()
        database = {"status": "ok", "latency_ms": round((time.perf_counter() - started) * 1000, 2)}
    except TimeoutError:
        database = {"status": "error", "error": f"no answer within {DATABASE_TIMEOUT:g}s"}
    except Exception as exc:  # the health check reports it rather than failing
        database = {"status": "error", "error": describe(exc)}
    scheduler_ok = not engine.failed.is_set() and not engine.stopped.is_set()
    if engine.journal.outage is not None:  # reads may work while writes do not (disk full)
        database = {"status": "error", "error": f"writes failing: {engine.journal.outage}"}
    healthy = scheduler_ok and database["status"] == "ok"
    body = {
        "status": "healthy" if healthy else "unhealthy",
        "scheduler": {
            "status": "running" if scheduler_ok else "stopped",
            "owner": engine.lock.owner,
            "active_tasks": engine.snapshot().active,
        },
        "database": database,
        "timestamp": time.time(),
    }
    if await _anonymous(keys, request):
        body = {"status": body["status"], "timestamp": body["timestamp"]}
        if engine.journal.outage is not None:  # the kind of fault, without its details
            body["reason"] = engine.journal.outage.partition(":")[0]
    return JSONResponse(body, status_code=200 if healthy else 503)


async def _anonymous(keys: KeyService, request: Request) -> bool:
    """Whether the caller presented no key while keys are in force (a loopback server
    without keys tells everyone everything); when that cannot be told, it is assumed."""
    if getattr(request.state, "principal", PUBLIC) is not PUBLIC:
        return False
    if request.app.state.auth_required:
        return True
    try:
        async with asyncio.timeout(DATABASE_TIMEOUT):
            return await keys.enabled()
    except Exception:  # the database does not answer: say no more than needed
        return True


@router.get("/api/status", responses=problems(503))
async def status(
    engine: Scheduler,
    queries: Queries,
    locks: Locks,
    registry: Agents,
    events: Events,
    schedules: Schedules,
    metrics: Metrics,
) -> dict[str, Any]:
    """The running system: scheduler, tasks by state, queues, agents, attempts."""
    counts, lock, agents, loads = await from_database(
        asyncio.gather(stored(queries), locks.read_lock(), registry.list(), registry.loads())
    )
    cached = await cache_stats(engine)
    now_live = live(engine)
    return {
        "version": __version__,
        "started_at": iso(metrics.started_at),
        "uptime_seconds": round(metrics.uptime, 3),
        "scheduler": _scheduler(engine, lock),
        "tasks": {"total": sum(counts.tasks.values()), "by_state": named(counts.tasks)},
        "queue": _queue(engine),
        "agents": _agent_summary(engine, agents, loads),
        "running_attempts": now_live.running_attempts,
        "executions": {
            "total": sum(counts.executions.values()),
            "by_outcome": named(counts.executions),
        },
        "journal": {"group_commits": now_live.commits, "pending_changes": engine.journal.pending},
        "event_subscribers": events.subscribers,
        "schedules": _schedules(schedules),
        "result_cache": cache_report(engine, cached),
        "timestamp": iso(time.time()),
    }


@router.get("/api/agents/status", responses=problems(503))
async def agents_status(registry: Agents, engine: Scheduler) -> dict[str, Any]:
    """Every registered agent: availability, load, resources, and its recorded attempts."""
    reads = asyncio.gather(registry.list(), registry.stats(), registry.loads())
    specs, stats, loads = await from_database(reads)
    live = engine.snapshot()
    agents = [
        {**_agent(spec, live.agent(spec.id), stats.get(spec.id)), **load_fields(loads.get(spec.id))}
        for spec in specs
    ]
    return {"agents": agents, "total": len(agents), "timestamp": iso(time.time())}


@router.get("/api/database/health", responses=problems(503))
async def database_health(reports: DatabaseReports) -> JSONResponse:
    """The database: dialect, version, latency, schema revision, row counts, storage, as
    looked at up to 10 s ago (``cached_at``, ``age_seconds``). 503 when it does not answer
    (a problem) or its schema is not this code's (the report)."""
    report = await from_database(reports.get())
    body = _report(report)
    return JSONResponse(body, status_code=200 if report.schema_current else 503)


def _schedules(routines: Routines | None) -> list[dict[str, Any]]:
    """The periodic routines (the seed's schedule): interval, last and next run, result."""
    if routines is None:
        return []
    return [
        {**r, "last_run": iso(r["last_run"]), "next_run": iso(r["next_run"])}  # type: ignore[arg-type]
        for r in routines.snapshot()
    ]


def _scheduler(engine: Engine, lock: LockInfo | None) -> dict[str, Any]:
    """running (holds the lock), standby (another process holds it), stopped or failed."""
    state = engine.scheduler_status(lock.owner if lock is not None else None)
    failure = engine.journal.failed
    return {
        "status": state,
        "owner": engine.lock.owner,
        "lock_holder": lock.owner if lock is not None else None,
        "lock_expires_at": iso(lock.expires_at) if lock is not None else None,
        "error": str(failure) if failure is not None else None,
    }


def _queue(engine: Engine) -> dict[str, int]:
    """Where the scheduler's tasks wait (its census: ready, delayed, unplaceable, pending,
    running, active)."""
    census = engine.snapshot().census
    return {
        "ready": census.ready,
        "delayed": census.delayed,
        "unplaceable": census.unplaceable,
        "pending": census.pending,
        "running": census.running,
        "active": census.active,
    }


def _agent_summary(
    engine: Engine, specs: list[AgentSpec], loads: dict[str, AgentLoad]
) -> dict[str, Any]:
    by_status = dict.fromkeys((str(s) for s in AgentStatus), 0)
    remote = {"total": 0, "online": 0, "offline": 0}
    unavailable = 0  # in-process agents whose implementation failed to load
    live = engine.snapshot()
    for spec in specs:
        by_status[str(spec.status)] += 1
        state = live.agent(spec.id)
        if spec.type == REMOTE_TYPE:
            remote["total"] += 1
            remote["online" if state is not None and state.online else "offline"] += 1
        elif state is not None and not state.online:
            unavailable += 1
    return {
        "total": len(specs),
        "by_status": by_status,
        "remote": remote,
        "local_unavailable": unavailable,
        "not_loaded": {  # why each of them failed to load
            spec.id: load.error
            for spec in specs
            if (load := loads.get(spec.id)) is not None
            and not load.loaded
            and spec.status is not AgentStatus.RETIRED
        },
    }


def _agent(spec: AgentSpec, state: AgentState | None, stats: AgentStats | None) -> dict[str, Any]:
    in_use = state.resources_in_use if state is not None else {}
    executions = stats.executions if stats is not None else 0
    return {
        "agent_id": spec.id,
        "agent_type": spec.type,
        "status": str(spec.status),
        "remote": spec.type == REMOTE_TYPE,
        "online": state.online if state is not None else None,  # None: scheduler not told yet
        "last_heartbeat": iso(state.last_heartbeat) if state is not None else None,
        "running": state.running if state is not None else 0,
        "max_concurrency": spec.max_concurrency,
        "resources": {
            name: {"declared": spec.resources.get(name), "in_use": in_use.get(name, 0.0)}
            for name in sorted({*spec.resources, *in_use})
        },
        "executions": executions,
        "succeeded": stats.succeeded if stats is not None else 0,
        "failed": stats.failed if stats is not None else 0,
        "success_rate": stats.succeeded / executions if stats is not None and executions else None,
        "mean_duration_seconds": stats.mean_duration if stats is not None else None,
        "last_success": iso(stats.last_success) if stats is not None else None,
        "last_failure": iso(stats.last_failure) if stats is not None else None,
    }


def _report(report: DatabaseReport) -> dict[str, Any]:
    detail = None
    if not report.schema_current:
        detail = (
            f"the database schema is at revision {', '.join(report.revision) or 'none'} but "
            f"this code expects {', '.join(report.head)}: run `imperium db upgrade`, or "
            "upgrade Imperium if the database was migrated by a newer version"
        )
    return {
        "status": "healthy" if report.schema_current else "unhealthy",
        "detail": detail,
        "dialect": report.dialect,
        "driver": report.driver,
        "server_version": report.server_version,
        "database": report.database,
        "latency_ms": report.latency_ms,
        "schema": {
            "revision": list(report.revision),
            "head": list(report.head),
            "current": report.schema_current,
        },
        "rows": report.rows,
        "pool": report.pool,
        report.dialect: report.details,
        "cached_at": iso(report.taken_at),
        "age_seconds": round(max(0.0, time.time() - report.taken_at), 3),
        "timestamp": iso(time.time()),
    }
