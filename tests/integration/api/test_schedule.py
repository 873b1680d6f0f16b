"""The seed's schedule in a real runtime (SQLite and PostgreSQL): visible in /api/status,
configurable, and each routine doing its work — the learning cycle as the imperium agent's
task, the cleanup's retention, the cache pruning."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from imperium.domain.models import AgentSpec
from imperium.domain.states import AgentStatus
from imperium.interfaces.api import create_app
from imperium.ports import LearningLog
from imperium.runtime import Imperium
from imperium.settings import Settings
from tests.support.learning_history import history


async def started(migrated_database_url: str, **settings: Any) -> Imperium:
    runtime = await Imperium.open(
        Settings(
            database_url=migrated_database_url, poll_interval=0.05, drain_seconds=0.2, **settings
        ),
        migrate=False,
    )
    await runtime.start()
    return runtime


@pytest.fixture
async def im(migrated_database_url: str) -> AsyncIterator[Imperium]:
    runtime = await started(
        migrated_database_url, builtin_agents="echo,imperium", security_scan_interval=600,
        log_retention_days=30,
    )  # fmt: skip
    yield runtime
    await runtime.close()


@pytest.fixture
async def client(im: Imperium) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(im))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        yield http


async def test_status_shows_every_routine_with_its_interval(client: httpx.AsyncClient) -> None:
    body = (await client.get("/api/status")).json()
    schedules = {s["name"]: s for s in body["schedules"]}
    assert set(schedules) == {
        "learning", "security_scan", "performance_analysis", "experiments", "cache", "cleanup",
        "custody_levels", "teams", "autoscale", "alert_queue_wait", "alert_rules",
        "weekly_report", "internet_learning", "market_data", "artefact_retention",
        "result_cache_purge",
    }  # fmt: skip
    assert schedules["artefact_retention"]["interval_seconds"] == 3600
    assert schedules["artefact_retention"]["active"] is True  # 7 days, 2 GiB by default
    assert "IMPERIUM_MARKET_SYMBOLS" in schedules["market_data"]["off_reason"]
    assert "IMPERIUM_RESULT_CACHE" in schedules["result_cache_purge"]["off_reason"]
    assert schedules["internet_learning"]["interval_seconds"] == 1800  # INTERNET_LEARNING_INTERVAL
    assert schedules["alert_rules"]["interval_seconds"] == 10
    assert schedules["weekly_report"]["active"] is False  # no recipients, no SMTP
    assert "IMPERIUM_REPORT_RECIPIENTS" in schedules["weekly_report"]["off_reason"]
    assert schedules["teams"]["interval_seconds"] == 1
    assert schedules["alert_queue_wait"]["interval_seconds"] == 15
    assert schedules["autoscale"]["interval_seconds"] == 5
    assert schedules["learning"]["interval_seconds"] == 1800
    assert schedules["security_scan"]["interval_seconds"] == 600  # configured
    assert schedules["security_scan"]["active"] is False
    assert "IMPERIUM_GUARDIAN_PATHS" in schedules["security_scan"]["off_reason"]
    assert "IMPERIUM_SANDBOX_EXPERIMENTS" in schedules["experiments"]["off_reason"]
    assert schedules["cleanup"]["interval_seconds"] == 86400
    assert "30 days" in schedules["cleanup"]["description"]
    assert schedules["learning"]["active"] is True
    assert schedules["learning"]["next_run"] is not None
    assert schedules["learning"]["runs"] == 0


async def test_the_learning_routine_is_a_task_of_the_imperium_agent(im: Imperium) -> None:
    await im.store.import_executions(history(100))
    assert im.routines is not None
    routine = await im.routines.run_now("learning")
    assert routine.last_status == "submitted"
    task_id = str(routine.last_result["task_id"])

    async with asyncio.timeout(60):
        task = await im.engine.wait_for(task_id)

    assert (task.state, task.agent_id, task.type) == ("succeeded", "imperium", "learning_cycle")
    assert task.result["status"] == "completed"
    [cycle] = await im.store.list_cycles(5)
    assert cycle.cycle_id == task.result["cycle_id"]
    assert cycle.trigger == "schedule"
    [execution] = await im.store.executions_for(task_id)
    assert execution.agent_id == "imperium"


async def test_without_the_imperium_agent_the_cycle_runs_in_the_server(
    migrated_database_url: str,
) -> None:
    runtime = await started(migrated_database_url, builtin_agents="echo")
    try:
        assert runtime.routines is not None
        routine = await runtime.routines.run_now("learning")
        assert routine.last_status == "completed"
        assert (await runtime.store.list_cycles(1))[0].cycle_id == routine.last_result["cycle_id"]
    finally:
        await runtime.close()


async def test_cleanup_deletes_events_past_the_retention(im: Imperium) -> None:
    now = time.time()
    for age_days, topic in ((40, "old"), (31, "older than 30"), (2, "recent")):
        await im.store.log_learning(
            LearningLog("knowledge.found", now - age_days * 86400, topic=topic)
        )
    assert im.routines is not None
    routine = await im.routines.run_now("cleanup")
    assert routine.last_result["events_deleted"] >= 2
    from imperium.ports import LearningFilter

    left = await im.store.learning_analytics(LearningFilter(limit=100))
    assert [log.topic for log in left.logs] == ["recent"]


async def test_cache_forgets_router_figures_of_removed_agents(im: Imperium) -> None:
    await im.agents.register(
        AgentSpec(id="temp", type="remote", capabilities=frozenset({"review"}))
    )
    await im.store.import_executions([e._replace(agent_id="temp") for e in history(20)])
    await im.learner.run_cycle()
    assert ("review", "temp") in im.learner.router.arms
    await im.agents.set_status("temp", AgentStatus.RETIRED)
    assert im.routines is not None
    routine = await im.routines.run_now("cache")
    assert routine.last_result["router_entries_pruned"] == 1
    assert ("review", "temp") not in im.learner.router.arms


async def test_performance_routine_skips_when_nothing_ran(im: Imperium) -> None:
    assert im.routines is not None
    routine = await im.routines.run_now("performance_analysis")
    assert routine.last_status == "skipped"
    assert "no executions" in str(routine.last_result["reason"])
