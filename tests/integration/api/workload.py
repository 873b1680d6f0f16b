"""A known workload for the monitoring tests: what it leaves behind is spelled out in
:class:`Workload`, so /api/status, /api/agents/status and /metrics can be checked against it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from tests.integration.api.conftest import register, submit

HANGS = "tests.support.agents:hangs"
FAILS = "tests.support.agents:always_fails"


@dataclass(frozen=True)
class Workload:
    """3 echo tasks succeeded (3 attempts); 1 'boom' task dead after 2 failed attempts; 1
    'hang' task running (1.5 cpu of the agent's 2) and a second one ready behind it (the
    agent takes one at a time); 1 echo task pending on the running one; 1 task nobody can
    take (unplaceable); 1 remote agent that has polled once (online)."""

    running_id: str
    dispatched = 6  # 3 echo + 2 boom + 1 hang attempts
    tasks = {"succeeded": 3, "dead": 1, "running": 1, "queued": 2, "pending": 1}
    executions = {"succeeded": 3, "failed": 2}
    agents = ("boom", "echo", "far", "hang")


async def run_workload(http: httpx.AsyncClient) -> Workload:
    await register(http, "boom", FAILS)
    await register(http, "hang", HANGS, max_concurrency=1, resources={"cpu": 2.0})
    await register(http, "far", "remote")
    lease = await http.post("/api/v1/agents/far/lease", json={"max_tasks": 1, "wait": 0})
    assert lease.status_code == 200, lease.text
    for n in range(3):
        assert (await submit(http, wait=20, type="echo", payload=n))["state"] == "succeeded"
    dead = await submit(http, wait=20, type="boom", max_attempts=2)
    assert (dead["state"], dead["attempts"]) == ("dead", 2)
    running = await submit(http, type="hang", resources={"cpu": 1.5})
    await until(http, f"/api/v1/tasks/{running['id']}", lambda t: t["state"] == "running")
    await submit(http, type="hang", resources={"cpu": 1.5})
    await submit(http, type="echo", depends_on=[running["id"]])
    await submit(http, type="nobody")  # no agent offers 'nobody'
    await until(http, "/api/status", lambda s: s["queue"]["unplaceable"] == 1)
    return Workload(running_id=running["id"])


async def until(
    http: httpx.AsyncClient, path: str, done: Callable[[Any], bool], within: float = 20
) -> Any:
    """GET ``path`` until ``done(body)``; returns that body."""
    async with asyncio.timeout(within):
        while True:
            response = await http.get(path)
            body = response.json()
            if response.status_code == 200 and done(body):
                return body
            await asyncio.sleep(0.02)
