"""The result cache through the real engine (LocalExecutor, SqlStore) on SQLite and
PostgreSQL: a repeated task is answered from the database without running its agent,
across a restart too; a failure is not cached; a changed agent configuration misses;
the counters are the store's; and /api/status and /metrics show them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from imperium.domain.cache import CacheStats
from imperium.domain.models import AgentSpec, Task
from imperium.domain.specs import TaskSpec
from imperium.domain.states import Outcome, TaskState
from imperium.interfaces.dashboard import create_app
from imperium.runtime import Imperium
from imperium.settings import Settings

WRITER = AgentSpec(id="writer", type="tests.support.agents:CountingWriter",
                   capabilities=frozenset({"write"}), max_concurrency=2,
                   config={"style": "plain"})  # fmt: skip


def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url, poll_interval=0.05, drain_seconds=0.5,
        result_cache="write=3600", builtin_agents="echo",
    )  # fmt: skip


async def opened(database_url: str) -> Imperium:
    im = await Imperium.open(settings(database_url))
    await im.start()
    return im


@pytest.fixture
async def im(database_url: str) -> AsyncIterator[Imperium]:
    runtime = await opened(database_url)
    yield runtime
    await runtime.close()


async def run(im: Imperium, payload: Any) -> Task:
    task = await im.engine.submit(TaskSpec(type="write", payload=payload))
    done = await asyncio.wait_for(im.engine.wait_for(task.id), timeout=20)
    assert im.engine.result_cache is not None
    await im.engine.result_cache.drain()  # the entry and the counters are written
    return done


def runs(log: Path) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


async def test_a_repeated_task_is_answered_from_the_database_across_a_restart(
    database_url: str, tmp_path: Path
) -> None:
    log = str(tmp_path / "runs.log")
    payload = {"topic": "green tea", "log": log}
    im = await opened(database_url)
    try:
        await im.agents.register(WRITER)
        first = await run(im, payload)
        second = await run(im, {"log": log, "topic": "green tea"})  # other key order
        assert runs(tmp_path / "runs.log") == 1
        assert (second.state, second.result) == (TaskState.SUCCEEDED, first.result)
        [hit] = await im.store.executions_for(second.id)
        assert (hit.outcome, hit.agent_id, hit.tokens, hit.cost) == (
            Outcome.CACHED,
            "writer",
            None,
            None,
        )
        events = [e.event_type for e in await im.store.events_for(second.id)]
        assert "task.cache_hit" in events
    finally:
        await im.close()

    im = await opened(database_url)  # a new process: the entry and counters are stored
    try:
        third = await run(im, payload)
        assert runs(tmp_path / "runs.log") == 1
        assert third.result == first.result
        assert im.engine.result_cache is not None
        stats = await im.engine.result_cache.stats()
        assert stats == [CacheStats("write", 2, 1, 300, pytest.approx(0.006))]  # type: ignore[arg-type]
    finally:
        await im.close()


async def test_failures_are_not_cached_and_a_new_configuration_misses(
    im: Imperium, tmp_path: Path
) -> None:
    log = tmp_path / "runs.log"
    await im.agents.register(WRITER)
    failed = await run(im, {"topic": "x", "log": str(log), "fail": True})
    assert failed.state is TaskState.FAILED
    again = await run(im, {"topic": "x", "log": str(log), "fail": True})
    assert again.state is TaskState.FAILED
    assert runs(log) == 2

    await run(im, {"topic": "y", "log": str(log)})
    await im.agents.update("writer", {"config": {"style": "bold"}})
    bold = await run(im, {"topic": "y", "log": str(log)})
    assert runs(log) == 4
    assert bold.result == {"text": "bold text about y"}


async def test_status_and_metrics_show_the_counters(im: Imperium, tmp_path: Path) -> None:
    await im.agents.register(WRITER)
    for _ in range(3):
        await run(im, {"topic": "z", "log": str(tmp_path / "runs.log")})
    transport = httpx.ASGITransport(app=create_app(im))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        status = (await http.get("/api/status")).json()
        metrics = (await http.get("/metrics")).text
        page = await http.get("/agents")
    cache = status["result_cache"]
    assert cache["enabled"] is True
    assert (cache["backend"], cache["ttl_seconds"]) == ("database", {"write": 3600.0})
    assert (cache["hits"], cache["misses"], cache["tokens_saved"]) == (2, 1, 300)
    assert cache["cost_saved"] == pytest.approx(0.006)
    assert cache["hit_rate"] == pytest.approx(2 / 3)
    assert cache["by_type"]["write"]["hits"] == 2
    assert status["executions"]["by_outcome"]["cached"] == 2
    assert 'imperium_result_cache_hits_total{task_type="write"} 2.0' in metrics
    assert 'imperium_result_cache_misses_total{task_type="write"} 1.0' in metrics
    assert 'imperium_result_cache_tokens_saved_total{task_type="write"} 300.0' in metrics
    assert 'imperium_executions_total{outcome="cached"} 2.0' in metrics
    assert page.status_code == 200
    assert 'id="result-cache"' in page.text
    assert 'data-cache-type="write"' in page.text
