"""/api/v1/tasks/{id}/feedback on a running runtime: a rating is stored with who gave it,
listed, reaches the live router, and is refused clearly for tasks that cannot be rated."""

from __future__ import annotations

import httpx

from imperium.runtime import Imperium
from tests.integration.api.conftest import problem, register, submit

HANGS = "tests.support.agents:hangs"


async def test_a_rating_is_stored_listed_and_moves_the_router(
    client: httpx.AsyncClient, im: Imperium
) -> None:
    task = await submit(client, wait=20, type="echo", payload="hi")
    before = im.learner.router.estimate("echo", "echo").success
    response = await client.post(
        f"/api/v1/tasks/{task['id']}/feedback", json={"thumbs": "down", "comment": "useless"}
    )
    assert response.status_code == 201, response.text
    rated = response.json()
    assert (rated["task_id"], rated["attempt"], rated["agent_id"]) == (task["id"], 1, "echo")
    assert (rated["score"], rated["positive"], rated["success"]) == (0.0, False, True)
    assert (rated["comment"], rated["given_by"]) == ("useless", "api (no keys)")
    second = await client.post(f"/api/v1/tasks/{task['id']}/feedback", json={"score": 0.8})
    assert second.status_code == 201, second.text
    listed = (await client.get(f"/api/v1/tasks/{task['id']}/feedback")).json()["items"]
    assert [r["score"] for r in listed] == [0.0, 0.8]
    assert await im.store.feedback_for(task["id"]) != []
    assert im.learner.router.estimate("echo", "echo").success < before


async def test_ratings_that_cannot_be_given_are_refused_clearly(
    client: httpx.AsyncClient,
) -> None:
    missing = await client.post("/api/v1/tasks/nope/feedback", json={"thumbs": "up"})
    problem(missing, 404, "no task with id nope")
    assert (await client.get("/api/v1/tasks/nope/feedback")).status_code == 404
    await register(client, "hang", HANGS)
    hung = await submit(client, type="hang")
    running = await client.post(f"/api/v1/tasks/{hung['id']}/feedback", json={"score": 1})
    problem(running, 409, "only a task that has ended")
    await client.post(f"/api/v1/tasks/{hung['id']}/cancel")
    done = await submit(client, wait=20, type="echo", payload=1)
    url = f"/api/v1/tasks/{done['id']}/feedback"
    problem(await client.post(url, json={"score": 1.5}), 422)
    problem(await client.post(url, json={}), 422, "either a score")
    problem(await client.post(url, json={"score": 1, "thumbs": "up"}), 422)
    problem(await client.post(url, json={"thumbs": "sideways"}), 422)
