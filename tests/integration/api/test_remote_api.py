"""Remote agents over the API, in-process (httpx over ASGI) with a real database: lease,
heartbeat, complete and fail with fencing tokens; and the reference Worker and Client
against the same app."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from imperium.agents.base import Agent, Output, TaskContext, TaskFailed
from imperium.client import Client, ClientError
from imperium.domain.models import AgentSpec, Task
from imperium.domain.specs import TaskSpec
from imperium.domain.states import AgentStatus, Outcome, TaskState
from imperium.interfaces.api import create_app
from imperium.runtime import Imperium
from imperium.settings import Settings
from imperium.worker import Worker, WorkerError

PROBLEM = "application/problem+json"


async def _open(migrated_database_url: str) -> Imperium:
    settings = Settings(
        database_url=migrated_database_url, lease_seconds=1.0, poll_interval=0.05,
        retry_base_seconds=0.01, retry_cap_seconds=0.05, drain_seconds=0.2,
    )  # fmt: skip
    runtime = await Imperium.open(settings, migrate=False)
    await runtime.start()
    return runtime


@pytest.fixture
async def im(migrated_database_url: str) -> AsyncIterator[Imperium]:
    runtime = await _open(migrated_database_url)
    yield runtime
    await runtime.close()


@pytest.fixture
def transport(im: Imperium) -> httpx.ASGITransport:
    return httpx.ASGITransport(app=create_app(im))


@pytest.fixture
async def http(transport: httpx.ASGITransport) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        yield client


@pytest.fixture
async def sqlite_http(
    make_migrated_database_url: Callable[[str], str],
) -> AsyncIterator[httpx.AsyncClient]:
    """For requests refused before the database is touched: one database kind is enough."""
    runtime = await _open(make_migrated_database_url("sqlite"))
    transport = httpx.ASGITransport(app=create_app(runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        yield client
    await runtime.close()


async def remote_agent(im: Imperium, agent_id: str = "far", concurrency: int = 1) -> None:
    spec = AgentSpec(
        id=agent_id, type="remote", capabilities=frozenset({"job"}), max_concurrency=concurrency
    )
    await im.agents.register(spec)


async def submit(im: Imperium, payload: Any = None, **fields: Any) -> Task:
    return await im.engine.submit(TaskSpec(type="job", payload=payload, **fields))


async def lease(http: httpx.AsyncClient, agent_id: str = "far", **body: Any) -> list[dict]:
    response = await http.post(f"/api/v1/agents/{agent_id}/lease", json=body)
    assert response.status_code == 200, response.text
    leases: list[dict] = response.json()["leases"]
    return leases


def conflict(response: httpx.Response, *phrases: str) -> None:
    assert response.status_code == 409, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == 409
    for phrase in phrases:
        assert phrase in body["detail"], body["detail"]


async def ended(im: Imperium, task_id: str) -> Task:
    return await asyncio.wait_for(im.engine.wait_for(task_id), timeout=20)


# ---------------------------------------------------------------------------- the protocol
async def test_lease_heartbeat_complete(im: Imperium, http: httpx.AsyncClient) -> None:
    await remote_agent(im)
    task = await submit(im, {"n": 1}, resources={"cpu": 0.0}, timeout=30)
    [leased] = await lease(http, wait=1)
    assert leased["task_id"] == task.id
    assert (leased["type"], leased["payload"], leased["attempt"]) == ("job", {"n": 1}, 1)
    assert leased["lease_seconds"] == 1.0
    assert leased["timeout"] == 30
    proof = {"agent_id": "far", "token": leased["token"]}

    beat = await http.post(f"/api/v1/tasks/{task.id}/heartbeat", json=proof)
    assert beat.status_code == 200, beat.text
    assert beat.json()["expires_at"] >= leased["expires_at"]

    done = await http.post(
        f"/api/v1/tasks/{task.id}/complete",
        json={**proof, "result": {"sum": 3}, "tokens": 12, "cost": 0.5},
    )
    assert done.status_code == 200, done.text
    assert done.json() == {"task_id": task.id, "state": "succeeded"}
    stored = await im.store.get_task(task.id)  # answered after the commit: durable now
    assert stored is not None
    assert (stored.state, stored.result) == (TaskState.SUCCEEDED, {"sum": 3})
    [row] = await im.store.executions_for(task.id)
    assert (row.agent_id, row.outcome, row.tokens, row.cost) == ("far", Outcome.SUCCEEDED, 12, 0.5)


async def test_long_poll_returns_when_a_task_arrives(im: Imperium, http: httpx.AsyncClient) -> None:
    await remote_agent(im, concurrency=2)
    polling = asyncio.create_task(lease(http, max_tasks=2, wait=10))
    await asyncio.sleep(0.2)
    assert not polling.done()
    task = await submit(im)
    leases = await asyncio.wait_for(polling, timeout=5)
    assert [item["task_id"] for item in leases] == [task.id]


async def test_a_long_poll_with_nothing_to_do_returns_empty(
    im: Imperium, http: httpx.AsyncClient
) -> None:
    await remote_agent(im)
    assert await lease(http, wait=0.2) == []
    assert await lease(http) == []


async def test_stale_token_is_refused(im: Imperium, http: httpx.AsyncClient) -> None:
    await remote_agent(im)
    task = await submit(im)
    [leased] = await lease(http)
    stale = {"agent_id": "far", "token": leased["token"] + 1}
    conflict(
        await http.post(f"/api/v1/tasks/{task.id}/complete", json=stale | {"result": 1}),
        "not current",
    )
    conflict(await http.post(f"/api/v1/tasks/{task.id}/heartbeat", json=stale), "not current")
    assert im.engine.state.tasks[task.id].state is TaskState.RUNNING  # nothing changed


async def test_another_agents_task_is_refused(im: Imperium, http: httpx.AsyncClient) -> None:
    await remote_agent(im, "far")
    await remote_agent(im, "other")
    task = await submit(im)
    [leased] = await lease(http, "far")
    proof = {"agent_id": "other", "token": leased["token"]}
    conflict(
        await http.post(f"/api/v1/tasks/{task.id}/complete", json=proof | {"result": 1}),
        "leased to agent far, not other",
    )
    conflict(await http.post(f"/api/v1/tasks/{task.id}/heartbeat", json=proof))
    conflict(
        await http.post(f"/api/v1/tasks/{task.id}/fail", json=proof | {"message": "x"}),
        "leased to agent far",
    )
    assert im.engine.state.tasks[task.id].state is TaskState.RUNNING


async def test_expired_lease_requeues_and_the_old_token_is_refused(
    im: Imperium, http: httpx.AsyncClient
) -> None:
    await remote_agent(im)
    task = await submit(im)
    [first] = await lease(http)
    await asyncio.sleep(1.3)  # lease_seconds is 1 and no heartbeat came
    [second] = await lease(http, wait=2)
    assert (second["task_id"], second["attempt"]) == (task.id, 2)
    assert second["token"] > first["token"]
    late = {"agent_id": "far", "token": first["token"], "result": "late"}
    conflict(await http.post(f"/api/v1/tasks/{task.id}/complete", json=late), "not current")
    current = {"agent_id": "far", "token": second["token"], "result": "on time"}
    assert (await http.post(f"/api/v1/tasks/{task.id}/complete", json=current)).status_code == 200
    done = await ended(im, task.id)
    assert done.result == "on time"
    rows = await im.store.executions_for(task.id)
    assert [(r.outcome, r.error_kind) for r in rows] == [
        (Outcome.LOST, "lease_expired"),
        (Outcome.SUCCEEDED, None),
    ]


async def test_heartbeats_keep_a_lease_alive(im: Imperium, http: httpx.AsyncClient) -> None:
    await remote_agent(im)
    task = await submit(im)
    [leased] = await lease(http)
    proof = {"agent_id": "far", "token": leased["token"]}
    for _ in range(5):  # 1.5 s in all, longer than the 1 s lease
        await asyncio.sleep(0.3)
        assert (
            await http.post(f"/api/v1/tasks/{task.id}/heartbeat", json=proof)
        ).status_code == 200
    done = await http.post(f"/api/v1/tasks/{task.id}/complete", json=proof)
    assert done.json()["state"] == "succeeded"


async def test_fail_not_retryable_fails_the_task(im: Imperium, http: httpx.AsyncClient) -> None:
    await remote_agent(im)
    task = await submit(im, max_attempts=3)
    [leased] = await lease(http)
    body = {
        "agent_id": "far",
        "token": leased["token"],
        "error_kind": "bad_input",
        "message": "the payload has no text",
        "retryable": False,
    }
    answer = await http.post(f"/api/v1/tasks/{task.id}/fail", json=body)
    assert answer.json() == {"task_id": task.id, "state": "failed"}
    stored = await im.store.get_task(task.id)
    assert stored is not None
    assert (stored.state, stored.error_kind, stored.error_message) == (
        TaskState.FAILED,
        "bad_input",
        "the payload has no text",
    )


async def test_retryable_failure_requeues(im: Imperium, http: httpx.AsyncClient) -> None:
    await remote_agent(im)
    task = await submit(im, max_attempts=2)
    [leased] = await lease(http)
    body = {"agent_id": "far", "token": leased["token"], "message": "flaky"}
    body |= {"tokens": 120, "cost": 0.25}  # spent by model calls before it failed
    answer = await http.post(f"/api/v1/tasks/{task.id}/fail", json=body)
    assert answer.json()["state"] == "queued"
    [again] = await lease(http, wait=2)
    assert again["attempt"] == 2
    rows = await im.store.executions_for(task.id)
    assert [(r.outcome, r.error_kind, r.tokens, r.cost) for r in rows] == [
        (Outcome.FAILED, "agent_error", 120, 0.25)
    ]


# ---------------------------------------------------------------------------- refusals
async def test_unknown_and_local_agents_cannot_lease(im: Imperium, http: httpx.AsyncClient) -> None:
    missing = await http.post("/api/v1/agents/nobody/lease", json={})
    assert missing.status_code == 404
    assert missing.headers["content-type"] == PROBLEM
    conflict(await http.post("/api/v1/agents/echo/lease", json={}), "runs in-process")
    await remote_agent(im, "gone")
    await im.agents.set_status("gone", AgentStatus.RETIRED)
    conflict(await http.post("/api/v1/agents/gone/lease"), "retired")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/agents/far/lease", {"max_tasks": 0}),
        ("/api/v1/agents/far/lease", {"max_tasks": 101}),
        ("/api/v1/agents/far/lease", {"wait": 31}),
        ("/api/v1/agents/far/lease", {"wait": -1}),
        ("/api/v1/agents/far/lease", {"max_task": 2}),
        ("/api/v1/tasks/t/heartbeat", {"agent_id": "far"}),
        ("/api/v1/tasks/t/heartbeat", {"agent_id": "far", "token": "one"}),
        ("/api/v1/tasks/t/complete", {"agent_id": "", "token": 1}),
        ("/api/v1/tasks/t/complete", {"agent_id": "far", "token": 1, "tokens": -1}),
        ("/api/v1/tasks/t/complete", {"agent_id": "far", "token": 1, "cost": -0.1}),
        ("/api/v1/tasks/t/complete", {"agent_id": "far", "token": 1, "result": 2**70}),
        ("/api/v1/tasks/t/fail", {"agent_id": "far", "token": 1}),
        ("/api/v1/tasks/t/fail", {"agent_id": "far", "token": 1, "message": "x", "error_kind": ""}),
    ],
)
async def test_bad_input_is_422(
    sqlite_http: httpx.AsyncClient, path: str, body: dict[str, Any]
) -> None:
    response = await sqlite_http.post(path, json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM


async def test_unknown_task_is_a_conflict(sqlite_http: httpx.AsyncClient) -> None:
    body = {"agent_id": "far", "token": 1, "result": None}
    conflict(
        await sqlite_http.post("/api/v1/tasks/nope/complete", json=body), "finished or unknown"
    )


# ---------------------------------------------------------------------------- Client, Worker
async def test_client_raises_client_error_with_the_problem(
    im: Imperium, transport: httpx.ASGITransport
) -> None:
    await remote_agent(im)
    task = await submit(im)
    async with Client("http://127.0.0.1", transport=transport) as client:
        [leased] = await client.lease("far")
        assert leased.task_id == task.id
        with pytest.raises(ClientError) as caught:
            await client.complete(task.id, agent_id="far", token=leased.token + 5, result=1)
        assert caught.value.status == 409
        assert "not current" in caught.value.detail
        assert caught.value.problem["title"] == "Conflict"
        expiry = await client.heartbeat(task.id, agent_id="far", token=leased.token)
        assert expiry >= leased.expires_at
        recorded = await client.complete(task.id, agent_id="far", token=leased.token, result=2)
        assert recorded == {"task_id": task.id, "state": "succeeded"}


async def test_client_submits_and_waits(im: Imperium, transport: httpx.ASGITransport) -> None:
    async with Client("http://127.0.0.1", transport=transport) as client:
        task = await client.submit("echo", payload={"hi": 1}, priority="high")
        assert task["state"] in {"queued", "running", "succeeded"}
        async with asyncio.timeout(20):
            done = await client.wait(task["id"], interval=0.02)
        assert (done["state"], done["result"]) == ("succeeded", {"hi": 1})
        assert (await client.get_task(task["id"]))["priority"] == "high"
        with pytest.raises(ClientError) as caught:
            await client.get_task("no-such-task")
        assert caught.value.status == 404


async def _double(ctx: TaskContext) -> Output:
    if ctx.payload == "bad":
        raise TaskFailed("cannot double 'bad'", kind="bad_input", retryable=False, tokens=2)
    if ctx.payload == "boom":
        raise ZeroDivisionError("boom")
    return Output(ctx.payload * 2, tokens=3, cost=0.01)


def _blocking_upper(ctx: TaskContext) -> str:
    return str(ctx.payload).upper()


async def test_worker_runs_functions_and_reports_outcomes(
    im: Imperium, transport: httpx.ASGITransport
) -> None:
    await remote_agent(im, concurrency=3)
    worker = Worker(
        "http://127.0.0.1", "far", _double, concurrency=3, lease_wait=1, transport=transport
    )
    running = asyncio.create_task(worker.run())
    tasks = [await submit(im, p, max_attempts=1) for p in (21, "bad", "boom")]
    doubled, bad, boom = [await ended(im, t.id) for t in tasks]
    worker.stop()
    await asyncio.wait_for(running, timeout=10)
    assert (doubled.state, doubled.result) == (TaskState.SUCCEEDED, 42)
    [row] = await im.store.executions_for(doubled.id)
    assert (row.tokens, row.cost) == (3, 0.01)
    assert (bad.state, bad.error_kind) == (TaskState.FAILED, "bad_input")
    [row] = await im.store.executions_for(bad.id)
    assert (row.tokens, row.cost) == (2, None)  # what it spent before failing
    assert (boom.state, boom.error_kind, boom.error_message) == (
        TaskState.DEAD,
        "ZeroDivisionError",
        "boom",
    )


async def test_worker_registers_a_missing_agent_and_runs_blocking_code(
    im: Imperium, transport: httpx.ASGITransport
) -> None:
    worker = Worker(
        "http://127.0.0.1", "newcomer", _blocking_upper, capabilities=["job"], transport=transport
    )
    running = asyncio.create_task(worker.run())
    done = await ended(im, (await submit(im, "shout")).id)
    worker.stop()
    await asyncio.wait_for(running, timeout=10)
    assert (done.result, done.agent_id) == ("SHOUT", "newcomer")
    spec = await im.agents.get("newcomer")
    assert (spec.type, spec.capabilities) == ("remote", frozenset({"job"}))


async def test_worker_stop_lets_the_running_attempt_finish(
    im: Imperium, transport: httpx.ASGITransport
) -> None:
    await remote_agent(im)
    started = asyncio.Event()

    async def slow(ctx: TaskContext) -> str:
        started.set()
        await asyncio.sleep(1.5)  # longer than the 1 s lease: heartbeats keep it
        return "finished"

    worker = Worker("http://127.0.0.1", "far", slow, lease_wait=5, transport=transport)
    running = asyncio.create_task(worker.run())
    task = await submit(im)
    await asyncio.wait_for(started.wait(), timeout=10)
    worker.stop()
    await asyncio.wait_for(running, timeout=10)
    stored = await im.store.get_task(task.id)
    assert stored is not None
    assert (stored.state, stored.result) == (TaskState.SUCCEEDED, "finished")
    assert [r.outcome for r in await im.store.executions_for(task.id)] == [Outcome.SUCCEEDED]


class LateAnswer(httpx.AsyncBaseTransport):
    """The app's transport, holding back the answer to a completion (already recorded by
    the server) until a heartbeat has been refused because the task has ended: the order
    a loaded machine can produce."""

    def __init__(self, inner: httpx.ASGITransport) -> None:
        self.inner = inner
        self.refused = asyncio.Event()
        self.answered = asyncio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        path = request.url.path
        if path.endswith("/heartbeat") and response.status_code == 409:
            self.refused.set()
        if path.endswith("/complete"):
            await self.refused.wait()  # (no wait_for: on 3.11 it can swallow a cancel)
            await asyncio.sleep(0.05)  # the refused heartbeat's worker side runs first
            self.answered.set()
        return response


async def test_a_heartbeat_refused_after_the_report_does_not_drop_its_answer(
    im: Imperium, transport: httpx.ASGITransport, caplog: pytest.LogCaptureFixture
) -> None:
    """The worker waits for its report's answer even when a heartbeat hears meanwhile that
    the lease has moved on (the report itself moved it): the attempt ends recorded, and
    the worker knows it."""
    caplog.set_level(logging.INFO, logger="imperium.worker")
    await remote_agent(im)
    late = LateAnswer(transport)
    worker = Worker("http://127.0.0.1", "far", _double, transport=late)
    running = asyncio.create_task(worker.run())
    task = await submit(im, 4)
    await asyncio.wait_for(late.refused.wait(), timeout=30)
    with contextlib.suppress(TimeoutError):  # (the assertion below says it)
        await asyncio.wait_for(late.answered.wait(), timeout=30)
    worker.stop()
    await asyncio.wait_for(running, timeout=10)
    assert late.answered.is_set()  # the completion's answer reached the worker
    reported = [r for r in caplog.records if getattr(r, "action", "") == "worker.reported"]
    assert [r.getMessage() for r in reported] == [
        f"task {task.id} attempt 1: succeeded, task now succeeded"
    ]
    stored = await im.store.get_task(task.id)
    assert stored is not None
    assert (stored.state, stored.result) == (TaskState.SUCCEEDED, 8)


class WatchedPolls(httpx.AsyncBaseTransport):
    """The app's transport, noting when a long-poll (a lease that waits) starts and how
    many the client gave up on before an answer."""

    def __init__(self, inner: httpx.ASGITransport) -> None:
        self.inner = inner
        self.polling = asyncio.Event()
        self.abandoned = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        waits = request.url.path.endswith("/lease") and json.loads(request.content)["wait"] > 0
        if waits:
            self.polling.set()
        try:
            return await self.inner.handle_async_request(request)
        except asyncio.CancelledError:
            self.abandoned += waits
            raise


async def test_a_stopped_long_poll_leases_nothing(
    im: Imperium, transport: httpx.ASGITransport
) -> None:
    await remote_agent(im)
    polls = WatchedPolls(transport)
    worker = Worker("http://127.0.0.1", "far", _double, lease_wait=10, transport=polls)
    running = asyncio.create_task(worker.run())
    await asyncio.wait_for(polls.polling.wait(), timeout=30)  # now waiting in a long-poll
    worker.stop()
    await asyncio.wait_for(running, timeout=60)
    assert polls.abandoned == 1  # the long-poll was given up, not waited out
    task = await submit(im, 1)
    await asyncio.sleep(0.2)
    assert im.engine.state.tasks[task.id].state is TaskState.QUEUED  # nobody took it


async def test_worker_refused_by_the_server_raises(
    im: Imperium, transport: httpx.ASGITransport
) -> None:
    worker = Worker("http://127.0.0.1", "echo", _double, transport=transport)
    with pytest.raises(WorkerError, match="runs in-process"):
        await asyncio.wait_for(worker.run(), timeout=10)


async def test_cancelling_run_abandons_attempts(
    im: Imperium, transport: httpx.ASGITransport
) -> None:
    await remote_agent(im)
    started, torn_down = asyncio.Event(), asyncio.Event()

    class Stuck(Agent):
        async def run(self, ctx: TaskContext) -> None:
            started.set()
            await asyncio.sleep(3600)

        async def teardown(self) -> None:
            torn_down.set()

    worker = Worker("http://127.0.0.1", "far", Stuck, transport=transport)
    running = asyncio.create_task(worker.run())
    task = await submit(im, max_attempts=1)
    await asyncio.wait_for(started.wait(), timeout=10)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(running, timeout=5)
    assert torn_down.is_set()
    assert worker.running == 0
    done = await ended(im, task.id)  # nobody reports: the lease expires
    assert (done.state, done.error_kind) == (TaskState.DEAD, "lease_expired")
