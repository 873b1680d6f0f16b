"""/api/v1/agents on a running runtime: the registry's answers and the engine told of every
change."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from imperium.domain.states import AgentStatus
from imperium.runtime import Imperium
from tests.integration.api.conftest import problem, register, submit, until_ended
from tests.integration.api.workload import until

DOUBLE = "tests.support.agents:blocking_double"


async def test_register_returns_the_agent(client: httpx.AsyncClient) -> None:
    body = {
        "agent_id": "summariser-1", "type": "echo", "capabilities": ["summarise", "echo"],
        "priority": "high", "max_concurrency": 4, "resources": {"cpu": 2},
        "config": {"model": "small"}, "description": "summarises",
    }  # fmt: skip
    response = await client.post("/api/v1/agents", json=body)
    assert response.status_code == 201, response.text
    agent = response.json()
    assert agent["agent_id"] == "summariser-1"
    assert agent["agent_type"] == "echo"
    assert agent["status"] == "active"
    assert agent["capabilities"] == ["echo", "summarise"]
    assert (agent["priority"], agent["max_concurrency"]) == ("high", 4)
    assert (agent["resources"], agent["config"]) == ({"cpu": 2.0}, {"model": "small"})
    assert (agent["executions"], agent["success_rate"]) == (0, None)
    assert agent["created_at"] is not None


async def test_capabilities_default_to_the_agent_id(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/agents", json={"agent_id": "e2", "type": "echo"})
    assert response.json()["capabilities"] == ["e2"]


async def test_a_registered_agent_runs_tasks_at_once(client: httpx.AsyncClient) -> None:
    await register(client, "double", DOUBLE)
    task = await submit(client, wait=20, type="double", payload=21)
    assert (task["state"], task["result"], task["agent_id"]) == ("succeeded", 42, "double")
    agent = (await client.get("/api/v1/agents/double")).json()
    assert (agent["executions"], agent["succeeded"], agent["success_rate"]) == (1, 1, 1.0)
    assert agent["last_success"] is not None


async def test_list_has_every_agent_with_figures(client: httpx.AsyncClient) -> None:
    await submit(client, wait=20, type="echo", payload=1)
    await register(client, "double", DOUBLE)
    listed = (await client.get("/api/v1/agents")).json()
    assert listed["total"] == 2
    by_id = {a["agent_id"]: a for a in listed["items"]}
    assert set(by_id) == {"echo", "double"}
    assert by_id["echo"]["executions"] == 1
    assert by_id["double"]["executions"] == 0


async def test_get_one_agent(client: httpx.AsyncClient) -> None:
    agent = (await client.get("/api/v1/agents/echo")).json()
    assert (agent["agent_id"], agent["max_concurrency"]) == ("echo", 1000)


async def test_patch_changes_only_the_fields_given(client: httpx.AsyncClient, im: Imperium) -> None:
    await register(client, "double", DOUBLE, description="before")
    changes = {"capabilities": ["double", "math"], "max_concurrency": 3, "config": {"k": 1}}
    response = await client.patch("/api/v1/agents/double", json=changes)
    assert response.status_code == 200, response.text
    agent = response.json()
    assert agent["capabilities"] == ["double", "math"]
    assert (agent["max_concurrency"], agent["config"]) == (3, {"k": 1})
    assert agent["description"] == "before"
    assert im.engine.state.agents["double"].spec.max_concurrency == 3  # the engine was told
    task = await submit(client, wait=20, type="math", capabilities=["math"], payload=2)
    assert task["result"] == 4


async def test_pause_resume_and_retire(client: httpx.AsyncClient, im: Imperium) -> None:
    await register(client, "double", DOUBLE)
    paused = await client.post("/api/v1/agents/double/pause")
    assert (paused.status_code, paused.json()["status"]) == (200, "paused")
    assert im.engine.state.agents["double"].spec.status is AgentStatus.PAUSED
    waiting = await submit(client, wait=0.3, type="double", payload=1)
    assert waiting["state"] == "queued"  # a paused agent is given no work
    resumed = (await client.post("/api/v1/agents/double/resume")).json()
    assert resumed["status"] == "active"
    done = await until_ended(client, waiting["id"])
    assert (done["state"], done["result"]) == ("succeeded", 2)
    retired = (await client.post("/api/v1/agents/double/retire")).json()
    assert retired["status"] == "retired"
    assert (await client.get("/api/v1/agents/double")).json()["status"] == "retired"


async def test_pausing_twice_is_harmless(client: httpx.AsyncClient) -> None:
    await client.post("/api/v1/agents/echo/pause")
    again = await client.post("/api/v1/agents/echo/pause")
    assert (again.status_code, again.json()["status"]) == (200, "paused")


async def test_duplicate_id_is_a_conflict(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/agents", json={"agent_id": "echo", "type": "echo"})
    problem(response, 409, "echo")


@pytest.mark.parametrize("action", ["pause", "resume", "retire"])
async def test_a_retired_agent_cannot_change(client: httpx.AsyncClient, action: str) -> None:
    await register(client, "old", "echo")
    await client.post("/api/v1/agents/old/retire")
    problem(await client.post(f"/api/v1/agents/old/{action}"), 409, "retired", "Register a new")
    problem(await client.patch("/api/v1/agents/old", json={"description": "x"}), 409, "retired")


async def test_unknown_agent_ids_are_404(client: httpx.AsyncClient) -> None:
    problem(await client.get("/api/v1/agents/ghost"), 404, "no agent with id 'ghost'")
    problem(await client.patch("/api/v1/agents/ghost", json={"description": "x"}), 404, "ghost")
    for action in ("pause", "resume", "retire"):
        problem(await client.post(f"/api/v1/agents/ghost/{action}"), 404, "ghost")


async def test_a_type_that_cannot_be_imported_is_refused(client: httpx.AsyncClient) -> None:
    body = {"agent_id": "x", "type": "no_such_module:run"}
    problem(await client.post("/api/v1/agents", json=body), 422, "cannot import", "PYTHONPATH")
    problem(await client.get("/api/v1/agents/x"), 404)  # nothing was stored


async def test_an_agent_the_scheduler_cannot_load_is_shown_not_loaded(
    client: httpx.AsyncClient,
) -> None:
    await register(client, "broken", "tests.support.agents:Misconfigured")
    await register(client, "fine", "echo")
    error = "__init__() got an unexpected keyword argument 'modle'"

    def loads(body: dict[str, Any]) -> dict[str, tuple[bool | None, str | None]]:
        mine = [a for a in body["items"] if a["agent_id"] in ("broken", "fine")]
        return {a["agent_id"]: (a["loaded"], a["load_error"]) for a in mine}

    listed = await until(client, "/api/v1/agents", lambda b: (True, None) in loads(b).values())
    assert loads(listed) == {"broken": (False, error), "fine": (True, None)}
    assert {a["status"] for a in listed["items"]} == {"active"}  # the registry's, unchanged
    shown = (await client.get("/api/v1/agents/broken")).json()
    assert (shown["loaded"], shown["load_error"]) == (False, error)
    assert shown["load_checked_at"] is not None
    status = (await client.get("/api/status")).json()["agents"]
    assert status["not_loaded"] == {"broken": error}
    agents = (await client.get("/api/agents/status")).json()["agents"]
    loaded = {a["agent_id"]: a["loaded"] for a in agents}
    assert (loaded["broken"], loaded["fine"]) == (False, True)
