"""The whole API on the in-memory stores (``Imperium.build`` over a ``MemoryStore``): the
routes depend on storage ports only, so an app runs, and refuses, without a database."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from .conftest import problem, register, submit


@pytest.mark.parametrize(
    ("path", "phrase"),
    [
        ("/api/v1/tasks/nope", "nope"),
        ("/api/v1/teams/nope", "nope"),
        ("/api/v1/agents/nope", "nope"),
        ("/api/database/health", "keeps its data in memory"),
    ],
)
async def test_what_does_not_exist_is_a_404_problem(
    memory_client: httpx.AsyncClient, path: str, phrase: str
) -> None:
    problem(await memory_client.get(path), 404, phrase)


async def test_a_task_and_a_team_run_to_their_end(memory_client: httpx.AsyncClient) -> None:
    done = await submit(memory_client, wait=30, type="echo", payload={"n": 1})
    assert (done["state"], done["result"]) == ("succeeded", {"n": 1})

    for agent_id in ("r1", "r2"):
        await register(memory_client, agent_id, "echo", capabilities=["review"])
    response = await memory_client.post(
        "/api/v1/teams", json={"type": "review", "size": 2, "payload": 7}, params={"wait": 30}
    )
    assert response.status_code == 201, response.text
    ran: dict[str, Any] = response.json()
    assert ran["state"] == "succeeded"
    assert ran["results"] == {"r1": 7, "r2": 7}
    listed = (await memory_client.get(f"/api/v1/teams/{ran['id']}")).json()
    assert listed["task_ids"] == ran["task_ids"]
