"""/api/v1/tasks on a running runtime: submission (durable, optionally waited for), lists
with filters, cancel, retry, attempts and events."""

from __future__ import annotations

import httpx

from imperium.domain.states import TaskState
from imperium.runtime import Imperium
from tests.integration.api.conftest import problem, register, submit, until_ended

HANGS = "tests.support.agents:hangs"
FAILS = "tests.support.agents:always_fails"


async def test_submit_returns_the_durable_task(client: httpx.AsyncClient, im: Imperium) -> None:
    response = await client.post(
        "/api/v1/tasks",
        json={"type": "echo", "payload": {"a": [1, 2]}, "priority": "high", "max_attempts": 2},
    )
    assert response.status_code == 201, response.text
    task = response.json()
    assert (task["type"], task["priority"], task["max_attempts"]) == ("echo", "high", 2)
    assert task["payload"] == {"a": [1, 2]}
    assert task["state"] in {"queued", "running", "succeeded"}
    stored = await im.store.get_task(task["id"])  # committed before the answer
    assert stored is not None
    assert stored.payload == {"a": [1, 2]}


async def test_submit_and_wait_returns_the_result(client: httpx.AsyncClient) -> None:
    task = await submit(client, wait=20, type="echo", payload={"hello": "world"})
    assert (task["state"], task["result"]) == ("succeeded", {"hello": "world"})
    assert (task["attempts"], task["agent_id"]) == (1, "echo")
    assert task["finished_at"] is not None


async def test_a_wait_that_runs_out_returns_the_current_state(client: httpx.AsyncClient) -> None:
    await register(client, "hang", HANGS)
    task = await submit(client, wait=0.2, type="hang")
    assert task["state"] == "running"
    assert task["finished_at"] is None
    await client.post(f"/api/v1/tasks/{task['id']}/cancel")


async def test_get_a_task(client: httpx.AsyncClient) -> None:
    task = await submit(client, wait=20, type="echo", payload=5)
    shown = (await client.get(f"/api/v1/tasks/{task['id']}")).json()
    assert shown == task


async def test_list_filters_and_pages(client: httpx.AsyncClient) -> None:
    await register(client, "hang", HANGS)
    echoes = [await submit(client, wait=20, type="echo", payload=i) for i in range(3)]
    hung = await submit(client, type="hang")

    async def ids(query: str) -> list[str]:
        response = await client.get(f"/api/v1/tasks{query}")
        assert response.status_code == 200, response.text
        return [t["id"] for t in response.json()["items"]]

    newest_first = [e["id"] for e in reversed(echoes)]
    assert await ids("") == [hung["id"], *newest_first]
    assert await ids("?type=echo") == newest_first
    assert await ids("?state=succeeded&agent_id=echo") == newest_first
    assert await ids("?type=hang&state=succeeded") == []
    assert await ids("?type=echo&limit=1&offset=1") == newest_first[1:2]
    page = (await client.get("/api/v1/tasks?limit=2&offset=3")).json()
    assert (page["limit"], page["offset"], len(page["items"])) == (2, 3, 1)
    await client.post(f"/api/v1/tasks/{hung['id']}/cancel")
    assert await ids("?state=cancelled") == [hung["id"]]


async def test_an_unknown_state_names_the_allowed_ones(client: httpx.AsyncClient) -> None:
    body = problem(await client.get("/api/v1/tasks?state=finished"), 422, "query.state")
    for state in TaskState:
        assert f"'{state}'" in body["detail"]


async def test_cancel_a_running_task(client: httpx.AsyncClient) -> None:
    await register(client, "hang", HANGS)
    task = await submit(client, wait=0.2, type="hang")
    response = await client.post(f"/api/v1/tasks/{task['id']}/cancel")
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "cancelled"
    assert (await client.get(f"/api/v1/tasks/{task['id']}")).json()["state"] == "cancelled"
    executions = (await client.get(f"/api/v1/tasks/{task['id']}/executions")).json()["items"]
    assert [e["outcome"] for e in executions] == ["cancelled"]
    again = await client.post(f"/api/v1/tasks/{task['id']}/cancel")
    problem(again, 409, "already ended cancelled", "nothing to cancel")


async def test_retry_a_dead_task(client: httpx.AsyncClient) -> None:
    await register(client, "boom", FAILS)
    dead = await submit(client, wait=20, type="boom", max_attempts=1)
    assert (dead["state"], dead["attempts"]) == ("dead", 1)
    response = await client.post(f"/api/v1/tasks/{dead['id']}/retry", json={"attempts": 2})
    assert response.status_code == 200, response.text
    assert response.json()["max_attempts"] == 3
    again = await until_ended(client, dead["id"])
    assert (again["state"], again["attempts"]) == ("dead", 3)
    executions = (await client.get(f"/api/v1/tasks/{dead['id']}/executions")).json()["items"]
    assert [e["attempt"] for e in executions] == [1, 2, 3]
    assert {e["error_message"] for e in executions} == {"this agent always fails"}


async def test_retry_without_a_body_gives_one_attempt(client: httpx.AsyncClient) -> None:
    await register(client, "boom", FAILS)
    dead = await submit(client, wait=20, type="boom", max_attempts=1)
    response = await client.post(f"/api/v1/tasks/{dead['id']}/retry")
    assert response.json()["max_attempts"] == 2


async def test_retry_of_a_task_that_is_not_dead_is_a_conflict(client: httpx.AsyncClient) -> None:
    done = await submit(client, wait=20, type="echo")
    response = await client.post(f"/api/v1/tasks/{done['id']}/retry", json={"attempts": 1})
    problem(response, 409, "only dead, timed_out or failed tasks can be retried", "succeeded")
    await register(client, "hang", HANGS)
    running = await submit(client, wait=0.2, type="hang")
    problem(await client.post(f"/api/v1/tasks/{running['id']}/retry"), 409, "still running")
    await client.post(f"/api/v1/tasks/{running['id']}/cancel")


async def test_executions_and_events_of_a_task(client: httpx.AsyncClient) -> None:
    task = await submit(client, wait=20, type="echo", payload=1)
    executions = (await client.get(f"/api/v1/tasks/{task['id']}/executions")).json()["items"]
    assert len(executions) == 1
    assert (executions[0]["attempt"], executions[0]["outcome"]) == (1, "succeeded")
    assert executions[0]["agent_id"] == "echo"
    assert executions[0]["duration_seconds"] >= 0
    events = (await client.get(f"/api/v1/tasks/{task['id']}/events")).json()["items"]
    kinds = [e["event_type"] for e in events]
    assert kinds == ["task.queued", "task.running", "task.succeeded"]
    first = (await client.get(f"/api/v1/tasks/{task['id']}/events?limit=1")).json()["items"]
    assert [e["event_type"] for e in first] == ["task.queued"]


async def test_unknown_task_ids_are_404(client: httpx.AsyncClient) -> None:
    for method, path in [
        ("GET", "/api/v1/tasks/nope"),
        ("POST", "/api/v1/tasks/nope/cancel"),
        ("POST", "/api/v1/tasks/nope/retry"),
        ("GET", "/api/v1/tasks/nope/executions"),
        ("GET", "/api/v1/tasks/nope/events"),
    ]:
        problem(await client.request(method, path), 404, "no task with id nope")


async def test_references_to_what_does_not_exist(client: httpx.AsyncClient) -> None:
    missing_dep = await client.post("/api/v1/tasks", json={"type": "echo", "depends_on": ["x"]})
    problem(missing_dep, 404, "dependency 'x' is not a known task id")
    pinned = await client.post("/api/v1/tasks", json={"type": "echo", "agent": "ghost"})
    problem(pinned, 404, "pinned to agent 'ghost'", "register it first")


async def test_a_dependency_that_can_never_succeed_is_a_conflict(
    client: httpx.AsyncClient,
) -> None:
    await register(client, "boom", FAILS)
    dead = await submit(client, wait=20, type="boom", max_attempts=1)
    response = await client.post("/api/v1/tasks", json={"type": "echo", "depends_on": [dead["id"]]})
    problem(response, 409, "already ended dead", "Retry or resubmit it first")


async def test_a_task_waits_for_its_dependency(client: httpx.AsyncClient) -> None:
    first = await submit(client, wait=20, type="echo", payload=1)
    second = await submit(client, wait=20, type="echo", payload=2, depends_on=[first["id"]])
    assert second["state"] == "succeeded"
    assert second["depends_on"] == [first["id"]]
