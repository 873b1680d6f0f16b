"""/api/v1/orchestrate, /api/v1/health and /api/v1/status on a running engine."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.integration.api.conftest import problem, register, submit, until_ended


async def test_orchestrate_submits_the_tasks(client: httpx.AsyncClient) -> None:
    await register(client, "crypto_prediction", "echo")
    body = {
        "tasks": [
            {"type": "echo", "params": {"prompt": "a city"}},
            {"type": "crypto_prediction", "params": {"symbol": "ETH"}},
        ],
        "priority": "high",
    }
    response = await client.post("/api/v1/orchestrate", json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["status"], answer["priority"]) == ("submitted", "high")
    assert [t["type"] for t in answer["tasks"]] == ["echo", "crypto_prediction"]
    assert {t["state"] for t in answer["tasks"]} <= {"queued", "running", "succeeded"}
    ended = [await until_ended(client, t["task_id"]) for t in answer["tasks"]]
    assert [(t["state"], t["result"], t["priority"]) for t in ended] == [
        ("succeeded", {"prompt": "a city"}, "high"),
        ("succeeded", {"symbol": "ETH"}, "high"),
    ]
    listed = (await client.get(f"/api/v1/tasks?workflow_id={answer['orchestration_id']}")).json()
    assert {t["id"] for t in listed["items"]} == {t["task_id"] for t in answer["tasks"]}


async def test_orchestrate_priority_by_number_and_default(client: httpx.AsyncClient) -> None:
    for priority, level in ((1, "critical"), (None, "normal")):
        body: dict[str, Any] = {"tasks": [{"type": "echo"}]}
        if priority is not None:
            body["priority"] = priority
        answer = (await client.post("/api/v1/orchestrate", json=body)).json()
        assert answer["priority"] == level
        task = await until_ended(client, answer["tasks"][0]["task_id"])
        assert (task["priority"], task["payload"]) == (level, None)


@pytest.mark.parametrize(
    ("body", "phrase"),
    [
        ({"tasks": []}, "body.tasks: List should have at least 1 item"),
        ({"tasks": [{"type": "echo"}], "priority": 7}, "priority 7 is not a level number"),
        ({"tasks": [{"type": "echo"}], "priority": "top"}, "priority 'top' is unknown"),
        ({"tasks": [{"type": "echo", "data": 1}]}, "body.tasks.0.data: Extra inputs"),
        ({"tasks": [{"params": {}}]}, "body.tasks.0.type: Field required"),
        ({"tasks": [{"type": "echo"}] * 10_001}, "10000"),
    ],
)
async def test_orchestrate_refuses_bad_input(
    memory_client: httpx.AsyncClient, body: dict[str, Any], phrase: str
) -> None:
    problem(await memory_client.post("/api/v1/orchestrate", json=body), 422, phrase)


async def test_health(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/health")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["scheduler"]["status"], body["database"]["status"]) == (
        "healthy",
        "running",
        "ok",
    )


async def test_status_summarises_the_engine(client: httpx.AsyncClient) -> None:
    await submit(client, wait=20, type="echo")
    await register(client, "held", "echo")
    await client.post("/api/v1/agents/held/pause")
    await submit(client, type="held")
    response = await client.get("/api/v1/status")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "running"
    assert body["scheduler"]["queued"] == 1
    assert (body["tasks"]["succeeded"], body["tasks"]["queued"]) == (1, 1)
    assert body["agents"] == {"registered": 2, "active": 1}
