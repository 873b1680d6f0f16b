"""Learning over HTTP on a running runtime (SQLite and PostgreSQL): a cycle triggered through
the seed's route learns from a recorded history (tests/support/learning_history.py: on
``review`` tasks ``good`` succeeds 90% of the time in ~10 s, ``bad`` 30% in ~40 s), and
every route that shows what was learned (cycles, dashboard, agents, status, predictions,
insights, models, the router, the L20 metrics) answers from it; with learning disabled or
in observe mode the routes say why they cannot answer; and the engine's router really
sends tasks to the agent that succeeds."""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from imperium.runtime import Imperium
from imperium.settings import Settings
from tests.integration.api.conftest import _client, problem, register, submit
from tests.support.learning_history import history

API = "/api/imperium"
LEARNING = "/api/v1/learning"
SLEEPY = "tests.support.agents:sleepy"
FAILS = "tests.support.agents:always_fails"


@asynccontextmanager
async def runtime(migrated_database_url: str, **settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A started runtime with these settings (as conftest's ``im``), and a client for it."""
    fast = {"poll_interval": 0.05, "drain_seconds": 0.2, "retry_base_seconds": 0.01}
    settings = {**fast, "retry_cap_seconds": 0.05, **settings}
    started = await Imperium.open(
        Settings(database_url=migrated_database_url, **settings), migrate=False
    )
    try:
        await started.start()
        async with _client(started) as http:
            yield http
    finally:
        await started.close()


async def get(http: httpx.AsyncClient, path: str, **params: Any) -> Any:
    response = await http.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def remember_history(http: httpx.AsyncClient, im: Imperium, n: int = 400) -> None:
    """Register the history's agents (remote, able to review) and store the history as if
    their attempts had been recorded."""
    for agent in ("good", "bad"):
        await register(http, agent, "remote", capabilities=["review"])
    assert await im.store.import_executions(history(n)) == n


async def trigger(http: httpx.AsyncClient, path: str = f"{API}/cycles/trigger") -> dict[str, Any]:
    response = await http.post(path)
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"status", "message", "cycle_id", "timestamp"}
    assert body["status"] == "started"
    assert "/api/imperium/cycles" in body["message"]
    assert body["cycle_id"]
    assert body["timestamp"].endswith("+00:00")
    return body


async def until_completed(
    http: httpx.AsyncClient, cycle_id: str, within: float = 30
) -> dict[str, Any]:
    """Poll ``GET /cycles`` until the cycle has ended; fails unless it completed."""
    cycle: dict[str, Any] | None = None
    try:
        async with asyncio.timeout(within):
            while True:
                listed = await get(http, f"{API}/cycles", limit=10)
                assert listed["limit"] == 10
                cycle = next((c for c in listed["cycles"] if c["cycle_id"] == cycle_id), None)
                assert cycle is not None, f"cycle {cycle_id} is not listed: {listed}"
                if cycle["status"] != "running":
                    break
                await asyncio.sleep(0.25)  # /api/imperium allows 100 requests a minute
    except TimeoutError:
        pytest.fail(f"learning cycle {cycle_id} still running after {within} s: {cycle}")
    ended: dict[str, Any] = cycle  # set (and checked) before the loop ends
    assert ended["status"] == "completed", ended
    return ended


async def learned(http: httpx.AsyncClient, im: Imperium) -> dict[str, Any]:
    """The history remembered and one cycle run on it (through the API); the cycle."""
    await remember_history(http, im)
    started = await trigger(http)
    return await until_completed(http, started["cycle_id"])


# ---------------------------------------------------------------------------- cycles
async def test_a_triggered_cycle_learns_from_the_recorded_history(
    client: httpx.AsyncClient, im: Imperium
) -> None:
    await remember_history(client, im)
    before = await get(client, f"{API}/status")
    assert (before["total_learning_cycles"], before["last_cycle_start"]) == (0, None)
    assert before["learning_mode"] == "autonomous"
    assert before["learning_scheduler_running"] is True  # every 1800 s by default
    scores = await get(client, f"{API}/agents/good")
    assert scores["agent"]["learning_score"] is None  # no cycle has measured it yet

    started = await trigger(client)
    cycle = await until_completed(client, started["cycle_id"])

    assert set(cycle) == {
        "cycle_id", "start_time", "end_time", "participating_agents", "total_learning_value",
        "success_count", "failure_count", "insights_generated", "status", "metadata",
    }  # fmt: skip
    assert cycle["start_time"] <= cycle["end_time"]  # ISO strings in UTC sort as times
    assert cycle["end_time"].endswith("+00:00")
    assert cycle["participating_agents"] == ["bad", "good"]
    successes = sum(e.outcome == "succeeded" for e in history(400))
    assert (cycle["success_count"], cycle["failure_count"]) == (successes, 400 - successes)
    assert cycle["insights_generated"] > 0
    meta = cycle["metadata"]
    assert meta["trigger"] == "manual"
    assert (meta["executions_read"], meta["executions_learned"]) == (400, 400)
    model = meta["model"]
    assert model["version"]
    assert (model["train_samples"], model["held_out"]) == (320, 80)  # the newest 20% held out
    assert model["auc"] > 0.7  # who ran it separates success from failure
    assert model["brier"] < model["baseline_brier"]
    assert cycle["total_learning_value"] == pytest.approx(model["brier_skill"])
    assert cycle["total_learning_value"] > 0
    assert sum(meta["insight_types"].values()) == cycle["insights_generated"]

    persisted = await get(client, f"{API}/persistence/learning-cycles")
    assert persisted["status"] == "success"
    assert persisted["data"] == {"cycles": [cycle], "count": 1}
    assert (await get(client, f"{LEARNING}/cycles"))["cycles"] == [cycle]

    good = (await get(client, f"{API}/agents/good"))["agent"]
    bad = (await get(client, f"{API}/agents/bad"))["agent"]
    assert good["learning_score"] > 80
    assert bad["learning_score"] < 40
    assert good["total_learning_cycles"] == bad["total_learning_cycles"] == 1
    assert good["last_learning_cycle"] is not None
    assert [p["task_type"] for p in good["learning_patterns"]] == ["review"]
    assert bad["improvement_suggestions"]  # from the insight that says to avoid it

    status = await get(client, f"{API}/status")
    assert status["total_learning_cycles"] == 1
    assert status["last_cycle_start"] == cycle["start_time"]
    assert status["learning_cycle_running"] is None
    assert status["average_learning_score"] is not None


async def test_a_trigger_while_a_cycle_runs_answers_with_the_running_cycle(
    client: httpx.AsyncClient, im: Imperium
) -> None:
    await remember_history(client, im)
    # A started cycle does its work under the learner's lock; holding it keeps the cycle
    # ``running`` for as long as the test needs, so the second trigger cannot come after
    # it ended however fast or slow the machine is.
    async with im.learner._lock:
        first = await trigger(client)
        again = await client.post(f"{API}/cycles/trigger")
        native = await client.post(f"{LEARNING}/cycles")  # Imperium's own route: the same
        status = await get(client, f"{API}/status")
        running = (await get(client, f"{API}/cycles"))["cycles"]
    for response in (again, native):
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["status"], body["cycle_id"]) == ("already_running", first["cycle_id"])
        assert "already running" in body["message"]
    assert status["learning_cycle_running"] == first["cycle_id"]
    assert [(c["cycle_id"], c["status"], c["end_time"]) for c in running] == [
        (first["cycle_id"], "running", None)
    ]
    await until_completed(client, first["cycle_id"])
    # Once it ended, a trigger starts a new cycle.
    second = await trigger(client, f"{LEARNING}/cycles")
    assert second["cycle_id"] != first["cycle_id"]
    await until_completed(client, second["cycle_id"])
    assert (await get(client, f"{API}/status"))["total_learning_cycles"] == 2


async def test_the_dashboard_shows_what_was_learned(
    client: httpx.AsyncClient, im: Imperium
) -> None:
    cycle = await learned(client, im)
    board = await get(client, f"{API}/dashboard")
    assert set(board) == {
        "system_status", "agent_metrics", "recent_cycles", "dashboard_metrics", "timestamp",
    }  # fmt: skip
    assert board["system_status"]["total_learning_cycles"] == 1
    assert board["agent_metrics"]["good"]["learning_score"] > 80
    assert {"good", "bad"} <= set(board["agent_metrics"])
    assert board["recent_cycles"] == [cycle]

    figures = board["dashboard_metrics"]
    assert (figures["executions_analysed"], figures["attempts_learned_from"]) == (400, 400)
    assert figures["success_rate"] == pytest.approx(cycle["success_count"] / 400)
    trend = figures["success_trend"]
    assert len(trend) == 12
    assert sum(p["executions"] for p in trend) == 400
    assert all(p["start"] < p["end"] for p in trend)
    assert all(0 <= p["success_rate"] <= 1 for p in trend if p["executions"])
    ranked = [r["agent_id"] for r in figures["agent_rankings"]]
    assert ranked[0] == "good"
    assert ranked.index("good") < ranked.index("bad")
    top = figures["agent_rankings"][0]
    assert top["executions"] == 200
    assert top["learning_score"] == board["agent_metrics"]["good"]["learning_score"]
    assert figures["recent_insights"]
    assert "avoid_pattern" in {i["insight_type"] for i in figures["recent_insights"]}
    assert [m["version"] for m in figures["models"]] == [cycle["metadata"]["model"]["version"]]


# ---------------------------------------------------------------------- predictions
async def test_predict_recommends_the_agent_that_did_best(
    client: httpx.AsyncClient, im: Imperium
) -> None:
    cycle = await learned(client, im)
    rec = await get(client, f"{LEARNING}/predict", task_type="review", complexity=2)
    primary = rec["primary_recommendation"]
    assert primary["agents"] == ["good"]
    assert primary["expected_success"] > 0.8
    assert primary["confidence"] > 0.99
    assert 5 < primary["expected_duration"] < 20
    assert primary["sample_size"] == 200
    low, high = primary["success_interval"]
    assert 0.8 < low < 0.9 < high < 1
    # The router's posteriors were rebuilt from the stored (imported) executions.
    assert [a["agents"] for a in rec["alternatives"]] == [["bad"]]
    alternative = rec["alternatives"][0]
    assert alternative["sample_size"] == 200
    assert alternative["expected_success_rate"] < 0.5
    assert alternative["confidence"] < 0.01
    assert alternative["expected_duration"] > primary["expected_duration"]
    assert rec["learning_mode"] == "autonomous"
    assert rec["model_version"] == cycle["metadata"]["model"]["version"]
    assert (rec["task_type"], rec["complexity"]) == ("review", 2)
    assert rec["recommendation_id"]

    none = await get(client, f"{LEARNING}/predict", task_type="review", alternatives=0)
    assert none["alternatives"] == []

    unknown = await client.get(f"{LEARNING}/predict", params={"task_type": "translation"})
    problem(unknown, 404, "no registered agent can take tasks of type 'translation'")
    for complexity in (-1, 1001):
        out_of_range = await client.get(
            f"{LEARNING}/predict", params={"task_type": "review", "complexity": complexity}
        )
        problem(out_of_range, 422, "complexity")
    missing = await client.get(f"{LEARNING}/predict")
    problem(missing, 422, "task_type")


async def test_insights_models_router_and_metrics_show_the_cycle(
    client: httpx.AsyncClient, im: Imperium
) -> None:
    cycle = await learned(client, im)
    version = cycle["metadata"]["model"]["version"]

    everything = await get(client, f"{LEARNING}/insights")
    assert everything["count"] == len(everything["insights"]) == cycle["insights_generated"]
    avoid = await get(client, f"{LEARNING}/insights", type="avoid_pattern")
    assert avoid["count"] >= 1
    assert {i["insight_type"] for i in avoid["insights"]} == {"avoid_pattern"}
    first = avoid["insights"][0]
    assert (first["task_type"], first["agents"]) == ("review", ["bad"])
    assert first["data"]["most_common_error"]["error_kind"] == "dependency_conflict"
    assert all(0 <= i["confidence"] <= 1 for i in everything["insights"])
    assert all(i["sample_size"] > 0 for i in everything["insights"])
    best = await get(client, f"{LEARNING}/insights", type="best_combo")
    assert ("review", ["good"]) in [(i["task_type"], i["agents"]) for i in best["insights"]]
    assert {i["insight_type"] for i in best["insights"]} == {"best_combo"}
    wrong = await client.get(f"{LEARNING}/insights", params={"type": "horoscope"})
    problem(wrong, 422)

    models = await get(client, f"{LEARNING}/models")
    assert models["current"]["version"] == version
    assert [m["version"] for m in models["models"]] == [version]
    assert models["current"]["held_out"] == 80

    router = await get(client, f"{LEARNING}/router")
    assert router["mode"] == "autonomous"
    arms = {(a["task_type"], a["agent_id"]): a for a in router["arms"]}
    assert set(arms) == {("review", "good"), ("review", "bad")}
    assert arms["review", "good"]["samples"] == arms["review", "bad"]["samples"] == 200
    assert arms["review", "good"]["success"] > 0.8 > 0.4 > arms["review", "bad"]["success"]
    low, high = arms["review", "good"]["interval"]
    assert low < arms["review", "good"]["success"] < high
    assert 5 < arms["review", "good"]["duration"] < 20 < arms["review", "bad"]["duration"]
    only = await get(client, f"{LEARNING}/router", task_type="grading")
    assert only["arms"] == []

    metrics = (await get(client, "/api/v1/l20/metrics"))["learning"]
    assert metrics["mode"] == "autonomous"
    assert metrics["cycles_completed"] == 1
    assert metrics["last_cycle"]["cycle_id"] == cycle["cycle_id"]
    assert metrics["last_cycle"]["status"] == "completed"
    assert metrics["last_cycle"]["insights_generated"] == cycle["insights_generated"]
    assert metrics["model"] is not None
    assert metrics["model"]["version"] == version


# ------------------------------------------------------------------ learning turned off
async def test_with_learning_disabled_cycles_and_predictions_are_refused(
    migrated_database_url: str,
) -> None:
    async with runtime(migrated_database_url, learning_enabled=False) as http:
        await register(http, "good", "remote", capabilities=["review"])
        status = await get(http, f"{API}/status")
        assert status["learning_mode"] == "disabled"
        assert status["learning_scheduler_running"] is False
        for path in (f"{API}/cycles/trigger", f"{LEARNING}/cycles"):
            problem(await http.post(path), 409, "learning is disabled")
        predicted = await http.get(f"{LEARNING}/predict", params={"task_type": "review"})
        problem(predicted, 409, "learning is disabled")
        assert (await get(http, f"{API}/cycles"))["cycles"] == []
        assert (await get(http, "/api/v1/l20/metrics"))["learning"]["mode"] == "disabled"


async def test_in_observe_mode_predictions_are_refused(migrated_database_url: str) -> None:
    async with runtime(migrated_database_url, learning_mode="observe") as http:
        await register(http, "good", "remote", capabilities=["review"])
        predicted = await http.get(f"{LEARNING}/predict", params={"task_type": "review"})
        problem(predicted, 409, "observe mode")
        assert (await get(http, f"{LEARNING}/router"))["mode"] == "observe"


# ------------------------------------------------------------------ routing in the engine
async def test_the_router_sends_tasks_to_the_agent_that_succeeds(
    client: httpx.AsyncClient, im: Imperium
) -> None:
    # Thompson sampling draws at random: a seeded source, and no duration or cost penalty
    # (those depend on measured times), make the run repeatable.
    router_state = im.learner.router
    router_state.rng = random.Random(7)
    router_state.config = dataclasses.replace(
        router_state.config, duration_weight=0.0, cost_weight=0.0
    )
    for agent_id, agent_type in (("fails", FAILS), ("works", SLEEPY)):
        await register(client, agent_id, agent_type, capabilities=["grade"], max_concurrency=8)

    chosen = []
    for i in range(60):
        task = await submit(client, wait=20, type="grade", payload={"i": i}, max_attempts=1)
        assert task["state"] in {"succeeded", "dead"}, task
        assert task["state"] == ("succeeded" if task["agent_id"] == "works" else "dead"), task
        chosen.append(task["agent_id"])

    assert "fails" in chosen  # it was tried ...
    assert chosen[-20:].count("works") >= 16  # ... and then rarely: 0/k against k/k
    assert chosen.count("works") > chosen.count("fails")
    router = await get(client, f"{LEARNING}/router", task_type="grade")
    arms = {a["agent_id"]: a for a in router["arms"]}
    assert arms["fails"]["samples"] + arms["works"]["samples"] == 60
    assert arms["fails"]["samples"] == chosen.count("fails")
    assert router["decisions"] >= 60
