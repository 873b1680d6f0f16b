"""/metrics (Prometheus text, parsed with the client's own parser) and /api/v1/metrics on a
running runtime (SQLite and PostgreSQL): figures that match a known workload, one
registry per app, and a database that does not answer shown as ``imperium_database_up 0``."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from imperium.adapters.storage.database import Database
from imperium.adapters.storage.engine import create_engine
from imperium.adapters.storage.sql import SqlStore
from imperium.domain.specs import TaskSpec
from imperium.interfaces.api import create_app
from imperium.runtime import Imperium
from tests.integration.api.conftest import submit
from tests.integration.api.workload import run_workload

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(http: httpx.AsyncClient) -> Samples:
    response = await http.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


def _client(runtime: Imperium) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(runtime))
    return httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1")


async def test_metrics_count_the_work_done(client: httpx.AsyncClient) -> None:
    work = await run_workload(client)

    samples = await scrape(client)

    for state in ("submitted", "pending", "queued", "running", "succeeded", "dead", "cancelled"):
        assert value(samples, "imperium_tasks", state=state) == work.tasks.get(state, 0), state
    for outcome in ("succeeded", "failed", "timed_out", "lost", "cancelled", "interrupted"):
        expected = work.executions.get(outcome, 0)
        assert value(samples, "imperium_executions_total", outcome=outcome) == expected, outcome
    assert value(samples, "imperium_running_attempts") == 1
    assert value(samples, "imperium_queue_depth") == 1  # the second 'hang' task
    assert value(samples, "imperium_active_tasks") == 4
    assert value(samples, "imperium_agents", status="active", online="true") == 4
    assert value(samples, "imperium_agents", status="paused", online="true") == 0
    assert value(samples, "imperium_scheduler_up") == value(samples, "imperium_database_up") == 1
    assert value(samples, "imperium_group_commits_total") > 0


async def test_the_dispatch_histogram_counts_every_attempt_started(
    client: httpx.AsyncClient,
) -> None:
    work = await run_workload(client)

    samples = await scrape(client)

    count = value(samples, "imperium_dispatch_latency_seconds_count")
    assert count == work.dispatched
    finished = sum(work.executions.values())
    assert count == finished + value(samples, "imperium_running_attempts")
    buckets = sorted(
        (float(dict(labels)["le"]), n)
        for (name, labels), n in samples.items()
        if name == "imperium_dispatch_latency_seconds_bucket"
    )
    assert [le for le, _ in buckets][:2] == [0.001, 0.0025]
    assert buckets[-2][0] == 60.0
    assert buckets[-1] == (float("inf"), count)
    assert [n for _, n in buckets] == sorted(n for _, n in buckets)  # cumulative
    assert value(samples, "imperium_dispatch_latency_seconds_sum") >= 0


async def test_http_requests_are_counted_by_route_template(client: httpx.AsyncClient) -> None:
    tasks = [await submit(client, wait=20, type="echo", payload=n) for n in range(2)]
    for task in tasks:
        assert (await client.get(f"/api/v1/tasks/{task['id']}")).status_code == 200
    assert (await client.get("/api/v1/tasks/nope")).status_code == 404
    assert (await client.get("/no/such/route")).status_code == 404

    samples = await scrape(client)

    requests = "imperium_http_requests_total"
    assert value(samples, requests, method="POST", route="/api/v1/tasks", status="201") == 2
    route = "/api/v1/tasks/{task_id}"
    assert value(samples, requests, method="GET", route=route, status="200") == 2
    assert value(samples, requests, method="GET", route=route, status="404") == 1
    assert value(samples, requests, method="GET", route="(no route)", status="404") == 1
    timed = "imperium_http_request_duration_seconds_count"
    assert value(samples, timed, method="GET", route=route) == 3
    assert not any(task["id"] in dict(labels).get("route", "") for _, labels in samples)


async def test_unusual_methods_are_counted_as_one_other(client: httpx.AsyncClient) -> None:
    """A server accepts any token as a method: each must not make a series of its own."""
    for method in ("X1", "X2", "PROPFIND"):
        assert (await client.request(method, "/api/v1/tasks/a")).status_code == 405

    samples = await scrape(client)

    unusual = {
        (name, labels): n
        for (name, labels), n in samples.items()
        if name == "imperium_http_requests_total" and dict(labels)["method"] not in ("GET", "POST")
    }
    labels = {"method": "OTHER", "route": "/api/v1/tasks/{task_id}", "status": "405"}
    assert unusual == {("imperium_http_requests_total", frozenset(labels.items())): 3}


async def test_requests_refused_before_routing_are_counted_by_route(im: Imperium) -> None:
    settings = im.settings.model_copy(update={"rate_limits": "native=1/day", "max_body_bytes": 64})
    async with _client(dataclasses.replace(im, settings=settings)) as http:
        assert (await http.get("/api/v1/tasks")).status_code == 200
        assert (await http.get("/api/v1/tasks")).status_code == 429
        too_large = await http.post("/api/v1/tasks", json={"type": "echo", "payload": "x" * 100})
        assert too_large.status_code == 413
        samples = await scrape(http)
    requests = "imperium_http_requests_total"
    assert value(samples, requests, method="GET", route="/api/v1/tasks", status="429") == 1
    assert value(samples, requests, method="POST", route="/api/v1/tasks", status="413") == 1
    assert not any(dict(labels).get("route") == "(no route)" for _, labels in samples)


async def test_json_metrics_match_the_work_done(client: httpx.AsyncClient) -> None:
    work = await run_workload(client)

    response = await client.get("/api/v1/metrics")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["tasks_by_state"] == {**dict.fromkeys(body["tasks_by_state"], 0), **work.tasks}
    assert body["total_tasks"] == sum(work.tasks.values())
    assert (body["completed_tasks"], body["failed_tasks"]) == (3, 1)
    assert {k: v for k, v in body["executions_by_outcome"].items() if v} == work.executions
    assert body["total_executions"] == 5
    assert body["success_rate"] == 3 / 5
    assert (body["queue_length"], body["running_attempts"], body["active_tasks"]) == (1, 1, 4)
    latency = body["dispatch_latency_seconds"]
    assert latency["count"] == latency["window"] == work.dispatched
    assert 0 <= latency["p50"] <= latency["p95"] <= latency["p99"] <= latency["max"]
    assert latency["mean"] <= latency["max"]
    assert body["agents"] == {
        "total": 4,
        "by_status": {"active": 4, "paused": 0, "retired": 0},
        "online": 4,
    }


async def test_before_any_dispatch_latency_is_unknown(client: httpx.AsyncClient) -> None:
    latency = (await client.get("/api/v1/metrics")).json()["dispatch_latency_seconds"]
    assert latency == {
        "count": 0, "window": 0, "mean": None, "p50": None, "p95": None, "p99": None, "max": None,
    }  # fmt: skip
    assert (await client.get("/api/v1/metrics")).json()["success_rate"] is None


async def test_openmetrics_when_asked_for(client: httpx.AsyncClient) -> None:
    response = await client.get("/metrics", headers={"Accept": "application/openmetrics-text"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.rstrip().endswith("# EOF")
    assert "imperium_tasks{state=" in response.text


async def test_each_app_has_its_own_registry(im: Imperium) -> None:
    async with _client(im) as first, _client(im) as second:
        await submit(first, wait=20, type="echo")
        one, two = await scrape(first), await scrape(second)
    assert value(one, "imperium_dispatch_latency_seconds_count") == 1  # both saw the dispatch
    assert value(two, "imperium_dispatch_latency_seconds_count") == 1
    post = {"method": "POST", "route": "/api/v1/tasks", "status": "201"}
    assert value(one, "imperium_http_requests_total", **post) == 1
    assert ("imperium_http_requests_total", frozenset(post.items())) not in two  # its own only


async def test_an_app_stops_listening_once_it_is_gone(im: Imperium) -> None:
    before = len(im.events._listeners)
    app = create_app(im)
    assert len(im.events._listeners) == before + 1
    del app
    gc.collect()
    task = await im.engine.submit(TaskSpec(type="echo"))
    await im.engine.wait_for(task.id)  # a publish: the orphaned listener unregisters itself
    await asyncio.sleep(0)
    assert len(im.events._listeners) == before


async def test_metrics_without_a_database_still_show_the_scheduler(
    im: Imperium, migrated_database_url: str, tmp_path: Path
) -> None:
    if migrated_database_url.startswith("sqlite"):
        url = f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'gone.db'}"
    else:
        url = "postgresql+asyncpg://imperium@127.0.0.1:1/gone"
    store = SqlStore(Database(create_engine(url)))
    try:
        async with _client(dataclasses.replace(im, store=store)) as http:
            samples = await scrape(http)
    finally:
        await store.close()
    assert value(samples, "imperium_database_up") == 0
    assert value(samples, "imperium_scheduler_up") == 1
    assert value(samples, "imperium_agents", status="active", online="true") == 1  # echo
    from_database = ("imperium_tasks", "imperium_executions")
    assert not any(name.startswith(from_database) for name, _ in samples)
