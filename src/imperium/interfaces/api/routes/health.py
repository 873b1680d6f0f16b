"""``/api/health``: is the scheduler running and the database answering."""

from __future__ import annotations

import time

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from imperium.interfaces.api.deps import Runtime

router = APIRouter(tags=["health"])


@router.get("/api/health")
async def health(runtime: Runtime) -> JSONResponse:
    engine = runtime.engine
    started = time.perf_counter()
    try:
        await runtime.store.count_tasks_by_state()
        database = {"status": "ok", "latency_ms": round((time.perf_counter() - started) * 1000, 2)}
    except Exception as exc:  # the health check reports it rather than failing
        database = {"status": "error", "error": str(exc)}
    scheduler_ok = not engine.failed.is_set() and not engine.stopped.is_set()
    healthy = scheduler_ok and database["status"] == "ok"
    body = {
        "status": "healthy" if healthy else "unhealthy",
        "scheduler": {
            "status": "running" if scheduler_ok else "stopped",
            "owner": engine.lock.owner,
            "active_tasks": len(engine.tasks),
        },
        "database": database,
        "timestamp": time.time(),
    }
    return JSONResponse(body, status_code=200 if healthy else 503)
