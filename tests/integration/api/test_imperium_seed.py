"""/api/imperium (the seed's routes) on a running runtime: registrations reach the real
registry and engine, figures come from recorded executions and logged events."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from imperium.domain.states import AgentStatus
from imperium.ports import LearningFilter
from imperium.runtime import Imperium
from tests.integration.api.conftest import problem, submit

API = "/api/imperium"
DOUBLE = "tests.support.agents:blocking_double"
FLAKY = "tests.support.agents:Flaky"
FAILS = "tests.support.agents:always_fails"


async def seed_register(http: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await http.post(f"{API}/agents/register", json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def log_event(http: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await http.post(f"{API}/persistence/log-learning-event", json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def analytics(http: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await http.get(f"{API}/persistence/learning-analytics", params=params)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "success"
    data: dict[str, Any] = response.json()["data"]
    return data


# ------------------------------------------------------------------------ registration
async def test_an_unknown_agent_type_registers_a_remote_agent(
    client: httpx.AsyncClient, im: Imperium
) -> None:
    answer = await seed_register(
        client, agent_id="my_ai_agent", agent_type="CustomAI", priority="high",
        capabilities=["summarise", "translate"], metadata={"team": "nlp", "v": 2},
    )  # fmt: skip

    assert answer["status"] == "success"
    assert "remote agent" in answer["message"]
    assert (answer["agent_id"], answer["agent_type"]) == ("my_ai_agent", "CustomAI")
    assert (answer["imperium_type"], answer["priority"]) == ("remote", "high")
    assert answer["capabilities"] == ["summarise", "translate"]
    assert answer["metadata"] == {"team": "nlp", "v": 2}
    assert answer["protocol_version"] == "2.0.0"
    assert answer["registration_timestamp"].endswith("+00:00")
    native = (await client.get("/api/v1/agents/my_ai_agent")).json()
    assert (native["agent_type"], native["status"]) == ("remote", "active")
    assert native["capabilities"] == ["summarise", "translate"]  # stored, not only echoed
    assert native["config"] == {"seed_agent_type": "CustomAI", "seed_metadata": answer["metadata"]}
    assert im.engine.state.agents["my_ai_agent"].remote


async def test_an_installed_type_or_import_path_runs_in_the_server(
    client: httpx.AsyncClient,
) -> None:
    answer = await seed_register(
        client, agent_id="doubler", agent_type=DOUBLE, capabilities=["double"]
    )
    assert (answer["imperium_type"], answer["priority"]) == (DOUBLE, "medium")
    task = await submit(client, wait=20, type="double", payload=21)
    assert (task["state"], task["result"], task["agent_id"]) == ("succeeded", 42, "doubler")
    echo = await seed_register(client, agent_id="echo-2", agent_type="echo")
    assert echo["imperium_type"] == "echo"
    assert echo["capabilities"] == ["echo-2"]  # defaults to the id, as in /api/v1


async def test_an_import_path_that_does_not_import_is_refused(client: httpx.AsyncClient) -> None:
    body = {"agent_id": "x", "agent_type": "no_such_module:run"}
    problem(await client.post(f"{API}/agents/register", json=body), 422, "cannot import")
    problem(await client.get("/api/v1/agents/x"), 404)


async def test_priority_is_read_in_any_case(client: httpx.AsyncClient) -> None:
    answer = await seed_register(client, agent_id="a1", agent_type="CustomAI", priority="LOW")
    assert answer["priority"] == "low"


@pytest.mark.parametrize(
    ("body", "phrase"),
    [
        ({"agent_type": "CustomAI"}, "agent_id: Field required"),
        ({"agent_id": "a1"}, "agent_type: Field required"),
        ({}, "agent_id: Field required"),
        ({"agent_id": "", "agent_type": "CustomAI"}, "agent_id"),
        ({"agent_id": "a/b", "agent_type": "CustomAI"}, "must not contain '/'"),
        ({"agent_id": "a1", "agent_type": "CustomAI", "priority": "urgent"}, "priority"),
        ({"agent_id": "a1", "agent_type": "CustomAI", "capabilities": "x"}, "capabilities"),
        ({"agent_id": "a1", "agent_type": "CustomAI", "metadata": [1]}, "metadata"),
        ({"agent_id": "a1", "agent_type": "CustomAI", "colour": "red"}, "colour"),
        (["agent_id", "a1"], "valid dictionary"),
    ],
)
async def test_an_invalid_registration_is_a_400(
    memory_client: httpx.AsyncClient, body: Any, phrase: str
) -> None:
    response = await memory_client.post(f"{API}/agents/register", json=body)
    problem(response, 400, "the registration is invalid", phrase)


@pytest.mark.parametrize("content", [b"", b"{not json", b"\xff"])
async def test_a_body_that_is_not_json_is_a_400(
    memory_client: httpx.AsyncClient, content: bytes
) -> None:
    response = await memory_client.post(
        f"{API}/agents/register", content=content, headers={"content-type": "application/json"}
    )
    problem(response, 400, "the registration is invalid")


@pytest.mark.parametrize("content_type", ["text/plain", None, "application/x-www-form-urlencoded"])
async def test_a_registration_not_sent_as_json_is_refused_unread(
    memory_client: httpx.AsyncClient, content_type: str | None
) -> None:
    """A browser form can post text/plain across sites; such a body also skips the limits
    middleware, which reads JSON only."""
    headers = {"content-type": content_type} if content_type else {}
    body = b'{"agent_id": "a1", "agent_type": "CustomAI"}'
    response = await memory_client.post(f"{API}/agents/register", content=body, headers=headers)
    problem(response, 415, "send the registration as JSON", "Content-Type: application/json")
    problem(await memory_client.get("/api/v1/agents/a1"), 404)


async def test_a_deeply_nested_registration_is_refused_not_a_server_error(
    memory_client: httpx.AsyncClient,
) -> None:
    deep = b"[" * 100_000
    plain = {"content-type": "text/plain"}
    response = await memory_client.post(f"{API}/agents/register", content=deep, headers=plain)
    problem(response, 415, "send the registration as JSON")
    for content_type in ("application/json", "application/seed+json; charset=utf-8"):
        headers = {"content-type": content_type}
        response = await memory_client.post(f"{API}/agents/register", content=deep, headers=headers)
        problem(response, 422, "nested too deep")
    nested = b'{"agent_id": "a1", "agent_type": "CustomAI", "metadata": {"a": [[[[[[[[[1]]]]]]]]]}}'
    headers = {"content-type": "application/json"}
    response = await memory_client.post(f"{API}/agents/register", content=nested, headers=headers)
    problem(response, 422, "$.metadata.a" + "[0]" * 8 + " is nested 11 levels deep")


async def test_registration_metadata_obeys_the_input_limits_without_the_middleware(
    im: Imperium,
) -> None:
    """The route parses its body itself (orjson: deep nesting is a decode error) and checks
    it as the limits middleware would, so it does not rely on running behind it."""
    from fastapi import FastAPI

    from imperium.interfaces.api.deps import ApiServices
    from imperium.interfaces.api.problems import install
    from imperium.interfaces.api.routes import imperium_seed

    app = FastAPI()
    app.state.services = ApiServices.of(im)
    install(app)
    app.include_router(imperium_seed.router)
    transport = httpx.ASGITransport(app=app)
    headers = {"content-type": "application/json"}
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as bare:
        long = {"agent_id": "a1", "agent_type": "CustomAI", "metadata": {"note": "x" * 10_001}}
        problem(await bare.post(f"{API}/agents/register", json=long), 422, "$.metadata.note")
        deep = b"[" * 100_000
        response = await bare.post(f"{API}/agents/register", content=deep, headers=headers)
        problem(response, 400, "the registration is invalid", "not JSON")
        nan = b'{"agent_id": "a1", "agent_type": "CustomAI", "metadata": {"x": NaN}}'
        response = await bare.post(f"{API}/agents/register", content=nan, headers=headers)
        problem(response, 400, "not JSON")


async def test_a_registered_id_is_a_conflict(client: httpx.AsyncClient) -> None:
    body = {"agent_id": "echo", "agent_type": "CustomAI"}
    problem(await client.post(f"{API}/agents/register", json=body), 409, "already exists")


# ----------------------------------------------------------------------------- metrics
async def test_rates_come_from_recorded_executions(client: httpx.AsyncClient) -> None:
    await seed_register(client, agent_id="flaky", agent_type=FLAKY, capabilities=["flaky"])
    await seed_register(client, agent_id="failing", agent_type=FAILS, capabilities=["fail"])
    for payload in (1, 2, 3):
        assert (await submit(client, wait=20, type="echo", payload=payload))["result"] == payload
    flaky = await submit(client, wait=20, type="flaky", max_attempts=3)  # fails once, then ok
    assert (flaky["state"], flaky["attempts"]) == ("succeeded", 2)
    failed = await submit(client, wait=20, type="fail", max_attempts=2)
    assert failed["state"] == "dead"

    listed = (await client.get(f"{API}/agents")).json()
    agents = listed["agents"]

    echo, flaky_m, failing = agents["echo"], agents["flaky"], agents["failing"]
    assert (echo["executions"], echo["success_rate"], echo["failure_rate"]) == (3, 1.0, 0.0)
    assert (echo["last_success"] is not None, echo["last_failure"]) == (True, None)
    assert (flaky_m["executions"], flaky_m["success_rate"]) == (2, 0.5)
    assert flaky_m["failure_rate"] == 0.5
    assert flaky_m["last_failure"] <= flaky_m["last_success"]  # it failed, then succeeded
    assert (failing["executions"], failing["success_rate"], failing["failure_rate"]) == (2, 0, 1)
    assert (failing["last_success"], failing["last_failure"] is not None) == (None, True)
    assert listed["summary"] == {
        "total_agents": 3,
        "active_agents": 3,
        "average_learning_score": None,
        "agent_types": sorted(["echo", FLAKY, FAILS]),
    }
    assert listed["timestamp"].endswith("+00:00")


async def test_figures_that_do_not_exist_yet_are_null(client: httpx.AsyncClient) -> None:
    await seed_register(client, agent_id="idle", agent_type="CustomAI", capabilities=["c"])

    idle = (await client.get(f"{API}/agents")).json()["agents"]["idle"]

    assert idle == {
        "agent_id": "idle", "agent_type": "CustomAI", "learning_score": None,
        "success_rate": None, "failure_rate": None, "executions": 0,
        "total_learning_cycles": 0, "last_learning_cycle": None, "last_success": None,
        "last_failure": None, "learning_patterns": [], "improvement_suggestions": [],
        "status": "active", "is_active": True, "priority": "medium", "capabilities": ["c"],
        "metadata": {}, "xp": 0, "level": 1,
        "created_at": idle["created_at"], "updated_at": idle["updated_at"],
    }  # fmt: skip
    assert idle["created_at"] == idle["updated_at"]


async def test_one_agent_with_its_analysis(client: httpx.AsyncClient) -> None:
    await submit(client, wait=20, type="echo", payload=1)

    answer = (await client.get(f"{API}/agents/echo")).json()

    assert answer["agent"]["agent_id"] == "echo"
    assert (answer["agent"]["executions"], answer["agent"]["success_rate"]) == (1, 1.0)
    assert answer["analysis"] == {
        "performance_trend": None,
        "recommendations": [],
        "last_activity": answer["agent"]["last_success"],  # later than its registration
        "learning_efficiency": None,
    }
    problem(await client.get(f"{API}/agents/ghost"), 404, "ghost")


async def test_pause_resume_and_unregister(client: httpx.AsyncClient, im: Imperium) -> None:
    await seed_register(client, agent_id="worker", agent_type="CustomAI")

    paused = (await client.post(f"{API}/agents/worker/pause")).json()
    assert (paused["status"], paused["agent_status"], paused["resume_available"]) == (
        "success", "paused", True,
    )  # fmt: skip
    assert im.engine.state.agents["worker"].spec.status is AgentStatus.PAUSED
    assert (await client.get(f"{API}/agents/worker")).json()["agent"]["is_active"] is False
    resumed = (await client.post(f"{API}/agents/worker/resume")).json()
    assert (resumed["status"], resumed["agent_status"]) == ("success", "active")
    assert im.engine.state.agents["worker"].spec.status is AgentStatus.ACTIVE

    gone = await client.delete(f"{API}/agents/worker")

    assert gone.status_code == 200, gone.text
    assert gone.json()["agent_status"] == "retired"
    assert "history (executions, events and metrics) is kept" in gone.json()["message"]
    assert im.engine.state.agents["worker"].spec.status is AgentStatus.RETIRED
    assert "worker" not in (await client.get(f"{API}/agents")).json()["agents"]
    listed = (await client.get(f"{API}/agents", params={"include_retired": "true"})).json()
    assert listed["agents"]["worker"]["status"] == "retired"
    assert (await client.get(f"{API}/agents/worker")).json()["agent"]["status"] == "retired"
    assert (await client.get("/api/v1/agents/worker")).json()["status"] == "retired"
    problem(await client.delete(f"{API}/agents/worker"), 409, "retired")
    problem(await client.post(f"{API}/agents/worker/resume"), 409, "retired")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", "/agents/ghost"),
        ("POST", "/agents/ghost/pause"),
        ("POST", "/agents/ghost/resume"),
    ],
)
async def test_unknown_agents_are_404(client: httpx.AsyncClient, method: str, path: str) -> None:
    problem(await client.request(method, f"{API}{path}"), 404, "ghost")


async def test_status_counts_agents(client: httpx.AsyncClient) -> None:
    await seed_register(client, agent_id="a1", agent_type="CustomAI")
    await seed_register(client, agent_id="a2", agent_type="CustomAI")
    await client.post(f"{API}/agents/a1/pause")
    await client.delete(f"{API}/agents/a2")

    status = (await client.get(f"{API}/status")).json()

    assert status["status"] == "operational"
    assert (status["total_agents"], status["active_agents"]) == (2, 1)  # echo and a1
    assert status["total_learning_cycles"] == 0
    assert status["last_cycle_start"] is None
    assert status["average_learning_score"] is None  # no cycle has scored anyone yet
    assert status["learning_scheduler_running"] is True  # every 1800 s by default
    assert status["learning_mode"] == "autonomous"
    assert status["websocket_clients"] == {"learning_analytics": 0, "events": 0}


# ------------------------------------------------------------------------- persistence
async def test_persisted_metrics_for_all_or_one_agent(client: httpx.AsyncClient) -> None:
    await submit(client, wait=20, type="echo", payload=1)
    await seed_register(client, agent_id="old", agent_type="CustomAI")
    await client.delete(f"{API}/agents/old")

    everyone = (await client.get(f"{API}/persistence/agent-metrics")).json()
    one = (await client.get(f"{API}/persistence/agent-metrics", params={"agent_id": "echo"})).json()

    assert everyone["status"] == "success"
    assert set(everyone["data"]) == {"echo", "old"}  # retired agents' figures are kept
    assert one["data"] == everyone["data"]["echo"]
    assert one["data"]["executions"] == 1
    problem(await client.get(f"{API}/persistence/agent-metrics", params={"agent_id": "x"}), 404)


@pytest.mark.parametrize(
    ("kwargs", "everyone"),
    [
        ({"json": "echo"}, False),
        ({"json": {"agent_id": "echo"}}, False),
        ({}, True),
        ({"json": None}, True),
        ({"json": {}}, True),
    ],
)
async def test_post_agent_metrics_answers_current_metrics(
    client: httpx.AsyncClient, kwargs: dict[str, Any], everyone: bool
) -> None:
    await submit(client, wait=20, type="echo", payload=1)

    response = await client.post(f"{API}/persistence/agent-metrics", **kwargs)

    assert response.status_code == 200, response.text
    data = response.json()["data"]
    echo = data["echo"] if everyone else data
    assert (echo["agent_id"], echo["executions"]) == ("echo", 1)


@pytest.mark.parametrize("body", [7, ["echo"], {"agent": "echo"}, {"agent_id": 7}, ""])
async def test_post_agent_metrics_refuses_other_bodies(
    memory_client: httpx.AsyncClient, body: Any
) -> None:
    response = await memory_client.post(f"{API}/persistence/agent-metrics", json=body)
    problem(response, 422, "send an agent id")


@pytest.mark.parametrize("content_type", ["text/plain", None])
async def test_post_agent_metrics_needs_a_json_body(
    memory_client: httpx.AsyncClient, content_type: str | None
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    for body in (b'"echo"', b"[" * 100_000):
        response = await memory_client.post(
            f"{API}/persistence/agent-metrics", content=body, headers=headers
        )
        if content_type is None and body.startswith(b"[["):
            problem(response, 422, "nested too deep")  # the limits middleware reads it as JSON
        else:
            problem(response, 415, "send the agent id as JSON")
    empty = await memory_client.post(f"{API}/persistence/agent-metrics", headers=headers)
    assert empty.status_code == 200, empty.text  # no body: every agent


async def test_post_agent_metrics_of_an_unknown_agent_is_404(client: httpx.AsyncClient) -> None:
    problem(await client.post(f"{API}/persistence/agent-metrics", json="ghost"), 404, "ghost")


# -------------------------------------------------------------------- learning events
async def test_a_logged_event_is_stored_and_published(
    client: httpx.AsyncClient, im: Imperium
) -> None:
    body = {
        "event_type": "internet_learning", "agent_id": "imperium", "agent_type": "Imperium",
        "topic": "AI orchestration", "results_count": 5, "results_sample": [{"title": "t"}],
        "insights": ["cache results"], "error_message": None, "processing_time": 1.5,
        "impact_score": 0.8, "event_data": {"source": "arxiv"},
    }  # fmt: skip
    with im.events.subscribe() as subscription:
        answer = await log_event(client, **body)
        published = await subscription.next_batch(wait=10)

    assert answer["status"] == "success"
    assert (answer["data"]["event_type"], answer["data"]["agent_id"]) == (
        "internet_learning", "imperium",
    )  # fmt: skip
    (stored,) = (await im.store.learning_analytics(LearningFilter())).logs
    assert {k: getattr(stored, k) for k in body} == body
    (event,) = published
    assert (event.event_type, event.agent_id, event.created_at) == (
        "internet_learning", "imperium", stored.created_at,
    )  # fmt: skip
    assert event.data == {k: v for k, v in body.items() if k not in ("event_type", "agent_id")}


async def test_samples_and_insights_take_any_json_and_a_null_impact_is_zero(
    client: httpx.AsyncClient, im: Imperium
) -> None:
    """The seed's columns are JSON: a dict (or any value) must be stored as sent."""
    bodies: list[dict[str, Any]] = [
        {"event_type": "internet_learning", "results_sample": {"top": {"title": "t"}},
         "insights": {"cache": True, "scores": [1, 2]}, "impact_score": None},
        {"event_type": "note", "results_sample": "a", "insights": 3, "impact_score": 1.5},
    ]  # fmt: skip
    for body in bodies:
        await log_event(client, **body)

    logs = (await im.store.learning_analytics(LearningFilter())).logs
    stored = {log.event_type: log for log in logs}
    first = stored["internet_learning"]
    assert (first.results_sample, first.insights) == (
        {"top": {"title": "t"}}, {"cache": True, "scores": [1, 2]},
    )  # fmt: skip
    assert first.impact_score == 0.0
    assert (stored["note"].results_sample, stored["note"].insights) == ("a", 3)
    data = await analytics(client)
    assert (data["total_events"], data["total_impact"]) == (2, 1.5)


@pytest.mark.parametrize(
    ("body", "phrase"),
    [
        ({"event_type": "task.succeeded"}, "Imperium's own namespaces"),
        ({"event_type": "Agent.registered"}, "Imperium's own namespaces"),
        ({"event_type": "scheduler.started"}, "only the engine writes"),
        ({"event_type": "   "}, "event_type is empty"),
        ({}, "event_type: Field required"),
        ({"event_type": "x", "impact_score": "high"}, "impact_score"),
        ({"event_type": "x", "impact_score": True}, "impact_score"),
        ({"event_type": "x", "processing_time": -1}, "processing_time"),
        ({"event_type": "x", "results_count": 2.5}, "results_count"),
        ({"event_type": "x", "results_count": -1}, "results_count"),
        ({"event_type": "x", "event_data": [1]}, "event_data"),
        ({"event_type": "x", "agent_type": "t" * 51}, "agent_type"),
        ({"event_type": "x" * 101}, "event_type"),
        ({"event_type": "x", "timestamp": "now"}, "timestamp"),
    ],
)
async def test_invalid_learning_events_are_refused(
    client: httpx.AsyncClient, im: Imperium, body: dict[str, Any], phrase: str
) -> None:
    response = await client.post(f"{API}/persistence/log-learning-event", json=body)
    problem(response, 422, phrase)
    assert (await im.store.learning_analytics(LearningFilter())).logs == []


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
async def test_an_impact_score_that_is_not_finite_is_refused(
    memory_client: httpx.AsyncClient, number: str
) -> None:
    """Python's JSON reader accepts these; the score must still be a finite number."""
    response = await memory_client.post(
        f"{API}/persistence/log-learning-event",
        content=f'{{"event_type": "x", "impact_score": {number}}}'.encode(),
        headers={"content-type": "application/json"},
    )
    problem(response, 422, "impact_score")


# --------------------------------------------------------------------------- analytics
async def _three_events(http: httpx.AsyncClient, im: Imperium) -> list[float]:
    await log_event(http, event_type="internet_learning", agent_id="imperium", impact_score=0.5)
    await log_event(http, event_type="cycle_completed", agent_id="guardian", impact_score=2.0)
    await log_event(http, event_type="internet_learning", agent_id="imperium", impact_score=1.0)
    logs = (await im.store.learning_analytics(LearningFilter())).logs
    return sorted(log.created_at for log in logs)


async def test_analytics_total_the_stored_learning_events(
    client: httpx.AsyncClient, im: Imperium
) -> None:
    await submit(client, wait=20, type="echo", payload=1)  # engine events: not counted
    await _three_events(client, im)

    data = await analytics(client)

    assert (data["total_events"], data["total_impact"], data["average_impact"]) == (3, 3.5, 3.5 / 3)
    assert data["event_type_counts"] == {"cycle_completed": 1, "internet_learning": 2}
    assert data["agents"] == {
        "guardian": {"total_events": 1, "total_impact": 2.0, "avg_impact": 2.0},
        "imperium": {"total_events": 2, "total_impact": 1.5, "avg_impact": 0.75},
    }
    assert [log["impact_score"] for log in data["logs"]] == [1.0, 2.0, 0.5]  # newest first
    assert set(data["logs"][0]) >= {"event_type", "agent_id", "topic", "results_count"}
    assert data["logs"][0]["created_at"].endswith("+00:00")


async def test_analytics_with_no_events(client: httpx.AsyncClient) -> None:
    data = await analytics(client)
    assert data == {
        "total_events": 0, "total_impact": 0.0, "average_impact": None,
        "event_type_counts": {}, "logs": [], "agents": {},
    }  # fmt: skip


async def test_analytics_filters(client: httpx.AsyncClient, im: Imperium) -> None:
    first, second, third = await _three_events(client, im)

    by_agent = await analytics(client, agent_id="imperium")
    by_type = await analytics(client, event_types="cycle_completed, nothing_else")
    by_time = await analytics(client, time_range_start=repr(second), time_range_end=repr(second))
    since = await analytics(client, time_range_start=repr(second))
    until = await analytics(client, time_range_end=repr(second))
    limited = await analytics(client, limit=1)

    assert (by_agent["total_events"], by_agent["total_impact"]) == (2, 1.5)
    assert (by_type["total_events"], list(by_type["agents"])) == (1, ["guardian"])
    assert (by_time["total_events"], by_time["event_type_counts"]) == (1, {"cycle_completed": 1})
    assert (since["total_events"], until["total_events"]) == (2, 2)
    assert (limited["total_events"], len(limited["logs"])) == (3, 1)
    assert first < second < third


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2000-01-01T00:00:00Z", "2999-01-01T00:00:00+00:00"),
        ("2000-01-01T00:00:00", "2999-01-01"),  # no offset: UTC
        ("2000-01-01T01:00:00 01:00", None),  # an unencoded '+' arrives as a space
        ("946684800", "32472144000.5"),
    ],
)
async def test_analytics_accept_iso_times_dates_and_epoch_seconds(
    client: httpx.AsyncClient, im: Imperium, start: str, end: str | None
) -> None:
    await _three_events(client, im)
    params = {"time_range_start": start, **({"time_range_end": end} if end else {})}
    assert (await analytics(client, **params))["total_events"] == 3
    future = {"time_range_start": "2999-01-01T00:00:00Z"}
    assert (await analytics(client, **future))["total_events"] == 0


@pytest.mark.parametrize(
    ("params", "phrases"),
    [
        ({"time_range_start": "yesterday"}, ["time_range_start 'yesterday'", "ISO 8601", "epoch"]),
        ({"time_range_end": "2026-13-01"}, ["time_range_end", "2026-01-31T12:00:00Z"]),
        ({"time_range_start": "nan"}, ["time_range_start 'nan' is not a time"]),
        ({"time_range_start": "2026-02-01", "time_range_end": "2026-01-01"}, ["starts after"]),
        ({"event_types": "task.succeeded"}, ["learning events only", "/api/v1/tasks"]),
        ({"limit": 0}, ["limit"]),
        ({"limit": 1001}, ["limit"]),
    ],
)
async def test_bad_analytics_queries_are_422(
    memory_client: httpx.AsyncClient, params: dict[str, Any], phrases: list[str]
) -> None:
    response = await memory_client.get(f"{API}/persistence/learning-analytics", params=params)
    problem(response, 422, *phrases)


# -------------------------------------------------------------------- /api/v1 agents fix
async def test_v1_agent_reads_the_stats_of_that_agent_only(
    client: httpx.AsyncClient, im: Imperium, monkeypatch: pytest.MonkeyPatch
) -> None:
    await submit(client, wait=20, type="echo", payload=1)
    asked: list[str | None] = []
    real = im.store.agent_stats

    async def spy(agent_id: str | None = None) -> Any:
        asked.append(agent_id)
        return await real(agent_id)

    monkeypatch.setattr(im.store, "agent_stats", spy)

    agent = (await client.get("/api/v1/agents/echo")).json()

    assert (agent["executions"], agent["success_rate"]) == (1, 1.0)
    assert asked == ["echo"]
