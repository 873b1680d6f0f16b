"""/api/v1/swarm over a running engine: dispatch, status and metrics (slots as "bots"),
scale (persisted max_concurrency), optimize (recommendations, applied on request)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from imperium.domain.states import TaskState
from imperium.runtime import Imperium
from tests.integration.api.conftest import problem, register, submit, until_ended

FAILS = "tests.support.agents:always_fails"
HANGS = "tests.support.agents:hangs"


async def until(check: Callable[[], bool], within: float = 20) -> None:
    async with asyncio.timeout(within):
        while True:
            if check():
                return
            await asyncio.sleep(0.02)


def states(im: Imperium, task_type: str) -> list[TaskState]:
    return sorted(t.state for t in im.engine.state.tasks.values() if t.type == task_type)


async def post(http: httpx.AsyncClient, path: str, body: Any = None) -> Any:
    response = await http.post(f"/api/v1/swarm/{path}", json=body)
    assert response.status_code == 200, response.text
    return response.json()


async def cancel_all(http: httpx.AsyncClient, im: Imperium) -> None:
    for task_id in list(im.engine.state.tasks):
        await http.post(f"/api/v1/tasks/{task_id}/cancel")


# ---------------------------------------------------------------------------- dispatch
async def test_dispatch_runs_the_tasks(client: httpx.AsyncClient) -> None:
    tasks = [
        {"type": "echo", "data": {"record_count": 1000}, "priority": "high"},
        {"type": "echo", "data": [1, 2], "priority": 4},
        {"type": "echo"},
    ]
    body = await post(client, "dispatch", {"tasks": tasks})
    assert body["total_tasks"] == 3
    # echo has free slots: the engine started all three before the submission was durable
    assert (body["immediate_assignments"], body["queued_tasks"]) == (3, 0)
    ended = [await until_ended(client, task_id) for task_id in body["task_ids"]]
    assert [t["state"] for t in ended] == ["succeeded"] * 3
    assert [(t["payload"], t["priority"]) for t in ended] == [
        ({"record_count": 1000}, "high"),
        ([1, 2], "low"),
        (None, "normal"),
    ]
    listed = (await client.get(f"/api/v1/tasks?workflow_id={body['dispatch_id']}")).json()
    assert {t["id"] for t in listed["items"]} == set(body["task_ids"])


async def test_dispatch_to_busy_agents_queues(client: httpx.AsyncClient, im: Imperium) -> None:
    await register(client, "held", "echo")
    await client.post("/api/v1/agents/held/pause")
    tasks = [{"type": "held", "priority": p} for p in ("critical", "high", "background")]
    body = await post(client, "dispatch", {"tasks": tasks})
    assert (body["immediate_assignments"], body["queued_tasks"]) == (0, 3)
    status = (await client.get("/api/v1/swarm/status")).json()
    assert status["queue_lengths"] == {
        "priority_1": 1,
        "priority_2": 1,
        "priority_3": 0,
        "priority_4": 1,  # background shares the lowest queue
    }
    assert status["total_queue_length"] == 3
    await client.post("/api/v1/agents/held/resume")
    for task_id in body["task_ids"]:
        assert (await until_ended(client, task_id))["state"] == "succeeded"


@pytest.mark.parametrize(
    ("body", "phrase"),
    [
        ({"tasks": []}, "body.tasks: List should have at least 1 item"),
        ({"tasks": [{"type": "echo"}] * 10_001}, "10000"),
        ({"tasks": [{"type": "echo", "priority": "asap"}]}, "priority 'asap' is unknown"),
        ({"tasks": [{"type": "echo", "priority": 9}]}, "priority 9 is not a level number"),
        ({"tasks": [{"type": ""}]}, "body.tasks.0.type"),
        ({"tasks": [{"data": 1}]}, "body.tasks.0.type: Field required"),
        ({"tasks": [{"type": "echo", "id": 1}]}, "body.tasks.0.id: Extra inputs are not"),
    ],
)
async def test_dispatch_refuses_bad_input(
    memory_client: httpx.AsyncClient, body: dict[str, Any], phrase: str
) -> None:
    problem(await memory_client.post("/api/v1/swarm/dispatch", json=body), 422, phrase)


# ---------------------------------------------------------------------------- status
async def test_status_counts_slots_queues_and_outcomes(
    client: httpx.AsyncClient, im: Imperium
) -> None:
    assert (await submit(client, wait=20, type="echo"))["state"] == "succeeded"
    await register(client, "broken", FAILS)
    dead = await submit(client, type="broken", max_attempts=1)
    assert (await until_ended(client, dead["id"]))["state"] == "dead"
    await register(client, "hang", HANGS, max_concurrency=2)
    await submit(client, type="hang")
    await until(lambda: states(im, "hang") == [TaskState.RUNNING])
    await register(client, "resting", "echo", max_concurrency=3)
    await client.post("/api/v1/agents/resting/pause")
    await register(client, "worker", "remote", max_concurrency=4)  # never connected
    body = (await client.get("/api/v1/swarm/status")).json()
    assert body["bot_status"] == {
        "idle": 1000 + 1 + 1,  # echo, one slot of hang, broken
        "working": 1,
        "failed": 4,
        "maintenance": 3,
    }
    assert body["total_bots"] == sum(body["bot_status"].values()) == 1000 + 1 + 2 + 3 + 4
    assert (body["completed_tasks"], body["failed_tasks"]) == (1, 1)
    assert set(body["queue_lengths"].values()) == {0}
    assert body["total_queue_length"] == 0
    metrics = body["metrics"]
    assert (metrics["running_tasks"], metrics["executions"]) == (1, 2)
    assert metrics["success_rate"] == 0.5
    assert metrics["utilisation"] == pytest.approx(1 / body["total_bots"])

    detail = (await client.get("/api/v1/swarm/metrics")).json()
    agents = {a["agent_id"]: a for a in detail["agents"]}
    assert agents["worker"]["condition"] == "not_connected"
    assert agents["worker"]["slots"]["failed"] == 4
    assert agents["resting"]["condition"] == "paused"
    hang = agents["hang"]["slots"]
    assert hang == {"total": 2, "working": 1, "idle": 1, "maintenance": 0, "failed": 0}
    assert agents["broken"]["executions"]["failed"] == 1
    assert agents["echo"]["executions"]["success_rate"] == 1.0
    assert detail["bot_status"] == body["bot_status"]
    assert detail["tasks_by_state"]["running"] == 1
    assert any("throughput" in n for n in detail["notes"])
    await cancel_all(client, im)


# ---------------------------------------------------------------------------- scale
async def test_scale_one_agent_is_stored_and_applied(
    client: httpx.AsyncClient, im: Imperium
) -> None:
    await register(client, "pool", "echo")
    body = await post(client, "scale", {"target_size": 10, "agent_id": "pool"})
    assert body["status"] == "success"
    assert body["changes"] == [{"agent_id": "pool", "from": 1, "to": 10}]
    assert body["message"] == "agent pool now has 10 slots"
    assert body["current_status"]["total_bots"] == 1000 + 10
    assert (await client.get("/api/v1/agents/pool")).json()["max_concurrency"] == 10
    stored = await im.store.get_agent("pool")
    assert stored is not None
    assert stored.max_concurrency == 10
    assert im.engine.state.agents["pool"].spec.max_concurrency == 10


async def test_scale_a_remote_agent_says_what_it_means(client: httpx.AsyncClient) -> None:
    await register(client, "far", "remote")
    body = await post(client, "scale", {"target_size": 12, "agent_id": "far"})
    assert "it is a remote agent" in body["message"]
    assert (await client.get("/api/v1/agents/far")).json()["max_concurrency"] == 12


async def test_scale_the_pool_divides_in_proportion(client: httpx.AsyncClient) -> None:
    await register(client, "a", "echo", max_concurrency=1000)
    await register(client, "b", "echo", max_concurrency=3000)
    await register(client, "resting", "echo", max_concurrency=7)
    await client.post("/api/v1/agents/resting/pause")
    await register(client, "far", "remote", max_concurrency=5)
    body = await post(client, "scale", {"target_size": 50})
    assert body["changes"] == [
        {"agent_id": "a", "from": 1000, "to": 10},
        {"agent_id": "b", "from": 3000, "to": 30},
        {"agent_id": "echo", "from": 1000, "to": 10},
    ]
    assert "remote agents (far) were left alone" in body["message"]
    listed = (await client.get("/api/v1/agents")).json()["items"]
    sizes = {a["agent_id"]: a["max_concurrency"] for a in listed}
    assert sizes == {"a": 10, "b": 30, "echo": 10, "resting": 7, "far": 5}
    assert body["current_status"]["total_bots"] == 50 + 7 + 5


async def test_nothing_to_scale(client: httpx.AsyncClient) -> None:
    await client.post("/api/v1/agents/echo/pause")
    response = await client.post("/api/v1/swarm/scale", json={"target_size": 10})
    problem(response, 409, "nothing to scale", "resume a paused one")


async def test_scale_refusals(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/swarm/scale", json={"target_size": 100_001, "agent_id": "echo"}
    )
    problem(response, 422, "above the limit of 100000 slots per agent")
    response = await client.post("/api/v1/swarm/scale", json={"target_size": 10, "agent_id": "x"})
    problem(response, 404, "no agent with id 'x'")
    await register(client, "old", "echo")
    await client.post("/api/v1/agents/old/retire")
    response = await client.post("/api/v1/swarm/scale", json={"target_size": 10, "agent_id": "old"})
    problem(response, 409, "retired")


@pytest.mark.parametrize(
    ("body", "phrase"),
    [
        ({"target_size": 9}, "greater than or equal to 10"),
        ({"target_size": 1_000_001}, "less than or equal to 1000000"),
        ({"target_size": "10"}, "body.target_size: Input should be a valid integer"),
        ({}, "body.target_size: Field required"),
        ({"target_size": 10, "agent_id": ""}, "body.agent_id"),
    ],
)
async def test_scale_refuses_bad_input(
    memory_client: httpx.AsyncClient, body: dict[str, Any], phrase: str
) -> None:
    problem(await memory_client.post("/api/v1/swarm/scale", json=body), 422, phrase)


# ---------------------------------------------------------------------------- optimize
async def test_optimize_recommends_and_applies_a_scale_up(
    client: httpx.AsyncClient, im: Imperium
) -> None:
    await register(client, "slow", HANGS)
    for _ in range(3):
        await submit(client, type="slow")
    await until(lambda: states(im, "slow") == [TaskState.QUEUED] * 2 + [TaskState.RUNNING])
    advice = await post(client, "optimize")
    assert advice["applied"] is None
    (rec,) = advice["recommendations"]
    assert (rec["action"], rec["agent_id"], rec["target_concurrency"], rec["applicable"]) == (
        "scale_up",
        "slow",
        3,
        True,
    )
    assert rec["evidence"]["shortfall"] == 2
    assert rec["evidence"]["waiting"] == [{"work": "slow", "waiting_tasks": 2, "free_slots": 0}]
    assert advice["current_state"]["queue_lengths"]["priority_3"] == 2

    applied = await post(client, "optimize", {"apply": True})
    assert applied["applied"] == [
        {"action": "scale_up", "agent_id": "slow", "ok": True, "detail": "max_concurrency 1 -> 3"}
    ]
    await until(lambda: states(im, "slow") == [TaskState.RUNNING] * 3)
    assert (await client.get("/api/v1/agents/slow")).json()["max_concurrency"] == 3
    assert (await post(client, "optimize"))["recommendations"] == []
    await cancel_all(client, im)


async def run_failures(http: httpx.AsyncClient, agent_id: str, n: int) -> None:
    tasks = [
        {"name": f"t{i}", "type": "scan", "agent": agent_id, "max_attempts": 1} for i in range(n)
    ]
    response = await http.post("/api/v1/workflows", json={"tasks": tasks})
    assert response.status_code == 201, response.text
    for task in response.json()["tasks"]:
        assert (await until_ended(http, task["id"]))["state"] == "dead"


async def test_optimize_replaces_a_proven_low_performer(client: httpx.AsyncClient) -> None:
    await register(client, "bad", FAILS, capabilities=["scan"])
    await run_failures(client, "bad", 3)
    early = await post(client, "optimize")
    assert early["recommendations"] == []
    assert any("insufficient data (n=3, need 20)" in n for n in early["notes"])

    await run_failures(client, "bad", 17)
    alone = await post(client, "optimize", {"apply": True})
    (rec,) = alone["recommendations"]
    assert (rec["action"], rec["agent_id"], rec["applicable"]) == ("replace", "bad", False)
    assert rec["evidence"]["only_active_agent_for"] == ["scan"]
    assert (rec["evidence"]["executions"], rec["evidence"]["failed"]) == (20, 20)
    assert alone["applied"] == []

    await register(client, "good", "echo", capabilities=["scan"])
    replaced = await post(client, "optimize", {"apply": True})
    assert replaced["applied"] == [
        {
            "action": "replace",
            "agent_id": "bad",
            "ok": True,
            "detail": "paused: it receives no new tasks; register a better agent for its work",
        }
    ]
    assert (await client.get("/api/v1/agents/bad")).json()["status"] == "paused"


async def test_optimize_names_work_no_agent_can_take(client: httpx.AsyncClient) -> None:
    await post(client, "dispatch", {"tasks": [{"type": "translate"}] * 2})
    (rec,) = (await post(client, "optimize", {"apply": True}))["recommendations"]
    assert (rec["action"], rec["applicable"]) == ("register_agent", False)
    assert rec["evidence"] == {"work": "translate", "waiting_tasks": 2, "agents": {}}


async def test_optimize_refuses_bad_input(memory_client: httpx.AsyncClient) -> None:
    response = await memory_client.post("/api/v1/swarm/optimize", json={"apply": "yes"})
    problem(response, 422, "body.apply: Input should be a valid boolean")
    response = await memory_client.post("/api/v1/swarm/optimize", json={"dry_run": True})
    problem(response, 422, "body.dry_run: Extra inputs are not permitted")


# ---------------------------------------------------------------------------- autoscaling
async def test_status_shows_autoscaled_pools_and_scale_and_optimize_act_on_them(
    client: httpx.AsyncClient,
) -> None:
    bounds = {"min": 2, "max": 12, "cooldown_seconds": 60}
    await register(client, "auto", "echo", max_concurrency=1, config={"autoscale": bounds})
    refused = await client.post(
        "/api/v1/agents",
        json={"agent_id": "broken", "type": "echo", "config": {"autoscale": {"min": 3}}},
    )
    problem(refused, 422, "autoscale.max must be a whole number")

    status = (await client.get("/api/v1/swarm/status")).json()
    assert status["total_bots"] >= 2  # the seed's fields stay
    pools = {p["agent_id"]: p for p in status["autoscaling"]}
    assert set(pools) == {"auto"}  # built-in agents have no autoscale config
    auto = pools["auto"]
    assert (auto["min"], auto["max"], auto["current"], auto["running"]) == (2, 12, 1, 0)
    assert auto["last_decision"] is None
    assert auto["error"] is None

    # optimize recommends what the autoscaler's decision function says: into its bounds
    body = await post(client, "optimize", {"apply": True})
    [rec] = [r for r in body["recommendations"] if r["agent_id"] == "auto"]
    assert (rec["action"], rec["target_concurrency"], rec["evidence"]["autoscale"]) == (
        "scale_up", 2, True,
    )  # fmt: skip
    assert {"action": "scale_up", "agent_id": "auto", "ok": True,
            "detail": "max_concurrency 1 -> 2"} in body["applied"]  # fmt: skip

    # a manual scale is kept within the bounds and starts a cooldown
    body = await post(client, "scale", {"target_size": 50, "agent_id": "auto"})
    assert body["changes"] == [{"agent_id": "auto", "from": 2, "to": 12}]
    assert "autoscaled" in body["message"]
    [auto] = [p for p in body["current_status"]["autoscaling"] if p["agent_id"] == "auto"]
    assert auto["current"] == 12
    assert auto["cooldown_until"] is not None
    last = auto["last_decision"]
    assert (last["trigger"], last["before"], last["after"]) == ("manual", 2, 12)
    assert "kept within 2..12" in last["reason"]
    agent = (await client.get("/api/v1/agents/auto")).json()
    assert agent["max_concurrency"] == 12
