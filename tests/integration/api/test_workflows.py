"""/api/v1/workflows: tasks with named dependencies, admitted all at once or not at all."""

from __future__ import annotations

import httpx

from tests.integration.api.conftest import problem, until_ended


async def test_a_workflow_runs_in_dependency_order(client: httpx.AsyncClient) -> None:
    body = {
        "name": "demo",
        "tasks": [
            {"name": "fetch", "type": "echo", "payload": 1},
            {"name": "report", "type": "echo", "payload": 3, "depends_on": ["parse"]},
            {"name": "parse", "type": "echo", "payload": 2, "depends_on": ["fetch"]},
        ],
    }
    response = await client.post("/api/v1/workflows", json=body)
    assert response.status_code == 201, response.text
    created = response.json()
    assert [t["name"] for t in created["tasks"]] == ["fetch", "report", "parse"]  # as given
    ids = {t["name"]: t["id"] for t in created["tasks"]}
    assert {t["workflow_id"] for t in created["tasks"]} == {created["workflow_id"]}
    assert created["tasks"][1]["depends_on"] == [ids["parse"]]
    done = {name: await until_ended(client, task_id) for name, task_id in ids.items()}
    assert {t["state"] for t in done.values()} == {"succeeded"}
    assert done["fetch"]["finished_at"] <= done["parse"]["started_at"]
    assert done["parse"]["finished_at"] <= done["report"]["started_at"]
    listed = (await client.get(f"/api/v1/tasks?workflow_id={created['workflow_id']}")).json()
    assert {t["id"] for t in listed["items"]} == set(ids.values())


async def test_a_workflow_may_depend_on_an_existing_task(client: httpx.AsyncClient) -> None:
    first = (await client.post("/api/v1/tasks", json={"type": "echo"})).json()
    body = {"tasks": [{"name": "next", "type": "echo", "depends_on": [first["id"]]}]}
    response = await client.post("/api/v1/workflows", json=body)
    assert response.status_code == 201, response.text
    assert response.json()["tasks"][0]["depends_on"] == [first["id"]]


async def test_a_cycle_is_refused_with_its_path(client: httpx.AsyncClient) -> None:
    body = {
        "tasks": [
            {"name": "a", "type": "echo", "depends_on": ["c"]},
            {"name": "b", "type": "echo", "depends_on": ["a"]},
            {"name": "c", "type": "echo", "depends_on": ["b"]},
        ]
    }
    response = await client.post("/api/v1/workflows", json=body)
    problem(response, 422, "form a cycle: a -> c -> b -> a", "remove one of these dependencies")
    assert (await client.get("/api/v1/tasks")).json()["items"] == []  # nothing was stored


async def test_a_pinned_agent_must_exist(client: httpx.AsyncClient) -> None:
    body = {"tasks": [{"name": "a", "type": "echo", "agent": "ghost"}]}
    problem(await client.post("/api/v1/workflows", json=body), 404, "'ghost'")
