"""``/metrics``: Prometheus text exposition; ``/api/v1/metrics``: the same figures as JSON
(the seed's route), with dispatch-latency percentiles over the latest dispatches.

What each figure is and where it comes from is in :mod:`imperium.interfaces.api.metrics`.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from imperium.domain.states import AgentStatus, Outcome, TaskState
from imperium.interfaces.api.deps import Queries, Scheduler
from imperium.interfaces.api.metrics import Latency, Metrics, from_database, live, named, stored
from imperium.interfaces.api.schemas import problems
from imperium.interfaces.records import iso

router = APIRouter(tags=["metrics"])

FAILED_STATES = (TaskState.FAILED, TaskState.DEAD, TaskState.TIMED_OUT)
# attempts that say something about the agent: cancelled and interrupted ones do not
JUDGED_OUTCOMES = (Outcome.SUCCEEDED, Outcome.FAILED, Outcome.TIMED_OUT, Outcome.LOST)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_PLAIN_0_0_4: {}}, "description": "Prometheus text"}},
)
async def prometheus(request: Request, metrics: Metrics) -> Response:
    """Prometheus text exposition (OpenMetrics when the ``Accept`` header asks for it). A
    database that does not answer shows as ``imperium_database_up 0``; the figures kept
    in memory are still served."""
    body, content_type = await metrics.scrape(request.headers.get("accept", ""))
    return Response(body, media_type=content_type)


@router.get("/api/v1/metrics", responses=problems(503))
async def json_metrics(queries: Queries, engine: Scheduler, metrics: Metrics) -> dict[str, Any]:
    """Tasks by state, attempts by outcome, queue length, running attempts, agents and
    dispatch latency, as JSON."""
    counts = await from_database(stored(queries))
    now = live(engine)
    tasks, executions = counts.tasks, counts.executions
    judged = sum(executions[o] for o in JUDGED_OUTCOMES)
    by_status = dict.fromkeys((str(s) for s in AgentStatus), 0)
    for (status, _online), n in now.agents.items():
        by_status[str(status)] += n
    return {
        "total_tasks": sum(tasks.values()),
        "tasks_by_state": named(tasks),
        "completed_tasks": tasks[TaskState.SUCCEEDED],
        "failed_tasks": sum(tasks[s] for s in FAILED_STATES),
        "total_executions": sum(executions.values()),
        "executions_by_outcome": named(executions),
        "success_rate": executions[Outcome.SUCCEEDED] / judged if judged else None,
        "queue_length": now.ready,
        "active_tasks": now.active,
        "running_attempts": now.running_attempts,
        "dispatch_latency_seconds": _latency(metrics.latency()),
        "agents": {
            "total": sum(now.agents.values()),
            "by_status": by_status,
            "online": sum(n for (_s, online), n in now.agents.items() if online),
        },
        "uptime_seconds": round(metrics.uptime, 3),
        "timestamp": iso(time.time()),
    }


def _latency(latency: Latency) -> dict[str, Any]:
    def rounded(value: float | None) -> float | None:
        return round(value, 6) if value is not None else None

    return {
        "count": latency.count,
        "window": latency.window,
        "mean": rounded(latency.mean),
        "p50": rounded(latency.p50),
        "p95": rounded(latency.p95),
        "p99": rounded(latency.p99),
        "max": rounded(latency.max),
    }
