"""Team tasks through the HTTP API on a real database (SQLite and PostgreSQL): a task given
to k agents runs once per member, the team ends when they have, its outcome follows the
quorum, the router learns combinations, bad requests are refused with what to change, and
a team submitted before a restart is recorded after it."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import httpx

from imperium.domain.models import AgentSpec
from imperium.domain.routing import Router
from imperium.runtime import Imperium, Offline, make_teams
from imperium.services.teams import TeamRequest
from imperium.settings import Settings

from .conftest import _client, problem, register

TEAMS = "/api/v1/teams"
FATAL = "tests.support.agents:fatal"


async def team(http: httpx.AsyncClient, wait: float | None = 30, **body: Any) -> dict[str, Any]:
    params = {"wait": wait} if wait is not None else {}
    response = await http.post(TEAMS, json={"type": "review", **body}, params=params)
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def reviewers(http: httpx.AsyncClient, *ids: str, agent_type: str = "echo") -> None:
    for agent_id in ids:
        await register(http, agent_id, agent_type, capabilities=["review"])


async def test_a_team_task_runs_once_per_member_and_ends_when_they_have(
    client: httpx.AsyncClient,
) -> None:
    await reviewers(client, "a1", "a2", "a3")
    ran = await team(client, size=2, payload={"doc": 7})

    assert ran["state"] == "succeeded"
    assert ran["chosen_by"] == "router"
    assert len(ran["members"]) == 2
    assert set(ran["members"]) <= {"a1", "a2", "a3"}
    assert ran["members"] == sorted(ran["members"])
    assert (ran["quorum"], ran["members_succeeded"]) == (2, 2)
    assert ran["results"] == {m: {"doc": 7} for m in ran["members"]}  # echo's answer
    assert ran["member_states"] == dict.fromkeys(ran["members"], "succeeded")
    assert ran["finished_at"] >= ran["created_at"]

    # the members' tasks are a workflow whose id is the team's, each pinned to its member
    listed = (await client.get("/api/v1/tasks", params={"workflow_id": ran["id"]})).json()
    tasks = {t["id"]: t for t in listed["items"]}
    assert set(tasks) == set(ran["task_ids"].values())
    for member, task_id in ran["task_ids"].items():
        assert (tasks[task_id]["agent_id"], tasks[task_id]["state"]) == (member, "succeeded")

    assert (await client.get(f"{TEAMS}/{ran['id']}")).json() == ran
    assert [t["id"] for t in (await client.get(TEAMS)).json()["items"]] == [ran["id"]]
    [combo] = (await client.get(f"{TEAMS}/combinations")).json()["combinations"]
    assert (combo["type"], combo["members"], combo["sample_size"]) == (
        "review",
        ran["members"],
        1,
    )


async def test_the_quorum_decides_and_a_failed_member_says_why(
    client: httpx.AsyncClient,
) -> None:
    await reviewers(client, "good")
    await reviewers(client, "bad", agent_type=FATAL)
    strict = await team(client, members=["good", "bad"], max_attempts=1)
    assert strict["state"] == "failed"
    assert strict["chosen_by"] == "user"
    assert strict["members_succeeded"] == 1
    assert strict["member_states"] == {"bad": "failed", "good": "succeeded"}
    assert strict["results"]["good"] is None  # echo of no payload
    assert "bad_input" in strict["results"]["bad"]
    assert "retrying will not help" in strict["results"]["bad"]

    lenient = await team(client, members=["bad", "good"], quorum=1, max_attempts=1)
    assert (lenient["state"], lenient["quorum"]) == ("succeeded", 1)

    failed = (await client.get(TEAMS, params={"state": "failed"})).json()["items"]
    assert [t["id"] for t in failed] == [strict["id"]]


async def test_the_router_learns_which_combinations_work(client: httpx.AsyncClient) -> None:
    await reviewers(client, "a1", "a2")
    await reviewers(client, "bad", agent_type=FATAL)
    for _ in range(3):
        await team(client, members=["a1", "a2"])
        await team(client, members=["a1", "bad"], max_attempts=1)
    combos = (await client.get(f"{TEAMS}/combinations", params={"type": "review"})).json()
    ranked = [(c["members"], c["sample_size"]) for c in combos["combinations"]]
    assert ranked == [(["a1", "a2"], 3), (["a1", "bad"], 3)]
    best, worst = combos["combinations"]
    assert best["expected_success"] > 0.6 > worst["expected_success"]
    assert worst["success_interval"][1] < best["success_interval"][1]
    # what the members did alone counts too: bad's own record drags its teams' prior down
    assert worst["prior_from_members"] < best["prior_from_members"]
    none = (await client.get(f"{TEAMS}/combinations", params={"type": "other"})).json()
    assert none == {"combinations": []}

    # recommend mode: the teams it would consider, best first; nothing is submitted
    advice = await client.get(f"{TEAMS}/recommend", params={"type": "review", "size": 2})
    assert advice.status_code == 200, advice.text
    body = advice.json()
    assert (body["size"], body["quorum"], body["combinations_considered"]) == (2, 2, 3)
    best_team = body["teams"][0]
    assert (best_team["members"], best_team["sample_size"]) == (["a1", "a2"], 3)
    assert len((await client.get(TEAMS)).json()["items"]) == 6  # no new team
    problem(
        await client.get(f"{TEAMS}/recommend", params={"type": "review", "size": 4}),
        422,
        "needs 4 different active agents",
    )
    problem(await client.get(f"{TEAMS}/recommend", params={"type": "review"}), 422, "size")


async def test_requests_that_cannot_make_a_team_are_refused_with_what_to_change(
    client: httpx.AsyncClient,
) -> None:
    await reviewers(client, "a1", "a2")
    await register(client, "p1", "echo", capabilities=["review"])
    assert (await client.post("/api/v1/agents/p1/pause")).status_code == 200

    async def refused(status: int, *phrases: str, **body: Any) -> None:
        response = await client.post(TEAMS, json={"type": "review", **body})
        problem(response, status, *phrases)

    await refused(422, "needs 3 different active agents", "2 can (a1, a2)", size=3)
    await refused(422, "size", size=9)
    await refused(422, "size", size=1)
    await refused(422, "a size (2 to 8) or its members")
    await refused(422, "quorum is 1 to the team size (2)", size=2, quorum=3)
    await refused(404, "no agent with id ghost", members=["a1", "ghost"])
    await refused(422, "must be different agents", members=["a1", "a1"])
    await refused(422, "agent p1 is paused", members=["a1", "p1"])
    await refused(422, "size 3 but 2 members given", size=3, members=["a1", "a2"])
    await refused(422, "cannot take write", type="write", members=["a1", "a2"])
    await refused(422, "deadline", size=2, deadline="soon")
    problem(await client.get(f"{TEAMS}/nope"), 404, "no team task with id nope")
    assert (await client.get(TEAMS)).json()["items"] == []  # nothing half-stored


async def test_a_team_stored_while_no_scheduler_runs_is_recorded_once_one_does(
    database_url: str,
) -> None:
    """As ``imperium teams submit`` does: the members are stored as submitted tasks and the
    team's row beside them, in one unit of work; a scheduler started later runs them and
    records the team."""
    settings = Settings(database_url=database_url, poll_interval=0.05, drain_seconds=0.2)
    offline = await Offline.open(settings)
    try:
        for agent_id in ("a1", "a2", "a3"):
            await offline.agents.ensure(
                AgentSpec(id=agent_id, type="echo", capabilities=frozenset({"review"}))
            )
        teams = make_teams(
            offline.store, offline.store, Router(random.Random(3)),
            offline.submissions.submit_workflow,
        )  # fmt: skip
        stored = await teams.submit(TeamRequest(type="review", size=3, payload="p"))
    finally:
        await offline.close()
    assert (stored.state.value, stored.members) == ("running", ("a1", "a2", "a3"))
    assert len(stored.task_ids) == 3

    server = await Imperium.open(settings)
    await server.start()
    try:
        async with _client(server) as http:
            for _ in range(300):  # the scheduler admits, runs, then settles every second
                shown = (await http.get(f"{TEAMS}/{stored.team_id}")).json()
                if shown["state"] != "running":
                    break
                await asyncio.sleep(0.1)
        assert shown["state"] == "succeeded"
        assert shown["results"] == dict.fromkeys(("a1", "a2", "a3"), "p")
        # the running server's router learned from it
        estimate = server.teams.router.estimate("review", ("a3", "a1", "a2"))
        assert estimate.samples == 1
    finally:
        await server.close()


async def test_a_team_can_be_cancelled_and_offline_agents_are_not_chosen(
    client: httpx.AsyncClient,
) -> None:
    await reviewers(client, "a1")
    await reviewers(client, "stuck", agent_type="tests.support.agents:hangs")
    await reviewers(client, "far", agent_type="remote")  # no worker connected
    ran = await team(client, wait=None, size=2)
    assert ran["members"] == ["a1", "stuck"]  # not "far": its task would wait for a worker
    refused = await client.post(TEAMS, json={"type": "review", "size": 3})
    problem(refused, 422, "far can take it but no worker of theirs is connected")

    for _ in range(300):  # a1 answers at once; "stuck" never does
        shown = (await client.get(f"{TEAMS}/{ran['id']}")).json()
        if shown["member_states"]["a1"] == "succeeded":
            break
        await asyncio.sleep(0.05)
    cancelled = await client.post(f"{TEAMS}/{ran['id']}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    for _ in range(300):  # the engine stops the running attempt, then the team is recorded
        done = (await client.get(f"{TEAMS}/{ran['id']}")).json()
        if done["state"] != "running":
            break
        await asyncio.sleep(0.05)
    assert done["state"] == "failed"
    assert done["member_states"] == {"a1": "succeeded", "stuck": "cancelled"}
    again = await client.post(f"{TEAMS}/{ran['id']}/cancel")
    problem(again, 409, "has already ended (failed)")
    problem(await client.post(f"{TEAMS}/nope/cancel"), 404, "no team task with id nope")
