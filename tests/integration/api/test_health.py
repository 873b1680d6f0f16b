"""/api/health, /api/status, /api/agents/status and /api/database/health on a running
runtime (SQLite and PostgreSQL): figures that match a known workload, the database as it
is, and a 503 that says why when the database does not answer."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from imperium import __version__
from imperium.adapters.storage import diagnostics
from imperium.adapters.storage.database import Database
from imperium.adapters.storage.engine import create_engine
from imperium.adapters.storage.sql import SqlStore
from imperium.domain.auth import Role
from imperium.interfaces.api import create_app
from imperium.interfaces.api import metrics as api_metrics
from imperium.runtime import Imperium, SystemClock
from imperium.services.agents import AgentService
from imperium.settings import Settings
from tests.integration.api.conftest import problem, register, submit
from tests.integration.api.workload import FAILS, run_workload, until

ON_POSTGRES = [pytest.param("postgresql", marks=pytest.mark.postgres)]


def _client(runtime: Imperium) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(runtime))
    return httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1")


async def test_health_is_ok_while_the_scheduler_runs(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/health")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["database"]["status"]) == ("healthy", "ok")
    assert body["scheduler"]["status"] == "running"


async def test_health_tells_a_caller_without_a_key_only_the_status(
    client: httpx.AsyncClient, im: Imperium
) -> None:
    _, key = await im.keys.create("k", Role.ADMIN)

    for path in ("/api/health", "/api/v1/health"):
        anonymous = await client.get(path)
        assert anonymous.status_code == 200, anonymous.text
        assert set(anonymous.json()) == {"status", "timestamp"}, path
        assert anonymous.json()["status"] == "healthy"
    keyed = await client.get("/api/health", headers={"Authorization": f"Bearer {key}"})
    assert keyed.status_code == 200
    assert keyed.json()["scheduler"]["owner"] == im.engine.lock.owner
    assert keyed.json()["database"]["status"] == "ok"


async def test_status_matches_the_work_done(client: httpx.AsyncClient, im: Imperium) -> None:
    work = await run_workload(client)

    status = (await client.get("/api/status")).json()

    assert status["version"] == __version__
    assert status["uptime_seconds"] >= 0
    assert status["scheduler"]["status"] == "running"
    scheduler = status["scheduler"]
    assert scheduler["owner"] == scheduler["lock_holder"] == im.engine.lock.owner
    assert status["scheduler"]["error"] is None
    assert status["tasks"]["by_state"] == {
        **dict.fromkeys(status["tasks"]["by_state"], 0),
        **work.tasks,
    }
    assert status["tasks"]["total"] == sum(work.tasks.values())
    queue = {"ready": 1, "delayed": 0, "unplaceable": 1, "pending": 1, "running": 1, "active": 4}
    assert status["queue"] == queue
    assert status["running_attempts"] == 1
    assert status["executions"]["total"] == sum(work.executions.values())
    assert {k: v for k, v in status["executions"]["by_outcome"].items() if v} == work.executions
    assert status["agents"] == {
        "total": len(work.agents),
        "by_status": {"active": len(work.agents), "paused": 0, "retired": 0},
        "remote": {"total": 1, "online": 1, "offline": 0},
        "local_unavailable": 0,
        "not_loaded": {},
    }
    assert status["journal"]["group_commits"] > 0


async def test_status_tells_a_retry_backoff_from_a_ready_task(migrated_database_url: str) -> None:
    settings = Settings(
        database_url=migrated_database_url, retry_base_seconds=300, drain_seconds=0.2
    )
    runtime = await Imperium.open(settings, migrate=False)
    await runtime.start()
    try:
        async with _client(runtime) as http:
            await register(http, "boom", FAILS)
            task = await submit(http, type="boom", max_attempts=2)  # waits minutes to retry
            status = await until(http, "/api/status", lambda s: s["queue"]["delayed"] == 1)
            assert status["queue"] == {
                "ready": 0, "delayed": 1, "unplaceable": 0, "pending": 0, "running": 0,
                "active": 1,
            }  # fmt: skip
            # /api/status reads the scheduler's memory; the stored row follows at its commit
            path = f"/api/v1/tasks/{task['id']}"
            shown = await until(http, path, lambda t: t["state"] != "running")
            assert (shown["state"], shown["attempts"]) == ("queued", 1)
    finally:
        await runtime.close()


async def test_agents_status_shows_load_resources_and_record(client: httpx.AsyncClient) -> None:
    await run_workload(client)

    body = (await client.get("/api/agents/status")).json()

    agents = {a["agent_id"]: a for a in body["agents"]}
    assert body["total"] == len(agents) == 4
    hang, boom, echo, far = agents["hang"], agents["boom"], agents["echo"], agents["far"]
    assert (hang["running"], hang["max_concurrency"], hang["online"]) == (1, 1, True)
    assert hang["resources"] == {"cpu": {"declared": 2.0, "in_use": 1.5}}
    assert (hang["executions"], hang["success_rate"]) == (0, None)
    assert (boom["executions"], boom["succeeded"], boom["failed"]) == (2, 0, 2)
    assert boom["success_rate"] == 0.0
    assert boom["last_failure"] is not None
    assert boom["last_success"] is None
    assert (echo["executions"], echo["succeeded"], echo["success_rate"]) == (3, 3, 1.0)
    assert echo["mean_duration_seconds"] >= 0
    assert echo["running"] == 0
    assert (echo["remote"], far["remote"]) == (False, True)
    assert far["online"] is True
    assert far["last_heartbeat"] is not None  # it polled for work once
    assert {a["status"] for a in agents.values()} == {"active"}


async def test_a_remote_agent_that_never_polled_is_offline(client: httpx.AsyncClient) -> None:
    await register(client, "far", "remote")
    agents = (await client.get("/api/agents/status")).json()["agents"]
    agent = next(a for a in agents if a["agent_id"] == "far")
    assert (agent["remote"], agent["online"], agent["last_heartbeat"]) == (True, False, None)
    summary = (await client.get("/api/status")).json()["agents"]
    assert summary["remote"] == {"total": 1, "online": 0, "offline": 1}


async def test_database_health_reports_the_database(
    client: httpx.AsyncClient, migrated_database_url: str
) -> None:
    database_url = migrated_database_url
    for n in range(2):
        await submit(client, wait=20, type="echo", payload=n)

    response = await client.get("/api/database/health")

    assert response.status_code == 200, response.text
    body = response.json()
    dialect = sa.make_url(database_url).get_backend_name()
    assert (body["status"], body["dialect"], body["detail"]) == ("healthy", dialect, None)
    assert body["schema"]["current"] is True
    assert body["schema"]["revision"] == body["schema"]["head"] != []
    assert body["rows"]["tasks"] == 2
    assert body["rows"]["agent_task_executions"] == 2
    assert body["rows"]["agent_metrics"] == 1  # the built-in echo agent
    assert body["rows"]["learning_logs"] >= 6  # queued, running, succeeded per task
    assert body["latency_ms"] >= 0
    assert body["server_version"][0].isdigit()
    assert body["pool"]["size"] >= 1
    assert body["database"] == sa.make_url(database_url).database
    if dialect == "sqlite":
        assert body["sqlite"]["journal_mode"] == "wal"
        assert body["sqlite"]["synchronous"] == "NORMAL"
        assert body["sqlite"]["file_size_bytes"] > 0
    else:
        assert body["postgresql"]["database_size_bytes"] > 0


async def test_database_health_takes_one_look_per_ten_seconds(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    looks = 0
    inspect = diagnostics.inspect_database

    async def counted(engine: AsyncEngine) -> diagnostics.DatabaseReport:
        nonlocal looks
        looks += 1
        await asyncio.sleep(0.2)  # the second request comes while the first look runs
        return await inspect(engine)

    monkeypatch.setattr(diagnostics, "inspect_database", counted)

    first, second = await asyncio.gather(*(client.get("/api/database/health") for _ in "12"))
    third = await client.get("/api/database/health")

    assert looks == 1
    assert first.status_code == second.status_code == third.status_code == 200
    bodies = [r.json() for r in (first, second, third)]
    assert bodies[0]["cached_at"] == bodies[1]["cached_at"] == bodies[2]["cached_at"]
    assert 0 <= bodies[0]["age_seconds"] <= bodies[2]["age_seconds"] < 10
    assert bodies[0]["rows"] == bodies[2]["rows"]


async def test_a_report_is_taken_again_once_it_is_old(
    im: Imperium, monkeypatch: pytest.MonkeyPatch
) -> None:
    looks = 0
    inspect = diagnostics.inspect_database

    async def counted(engine: AsyncEngine) -> diagnostics.DatabaseReport:
        nonlocal looks
        looks += 1
        return await inspect(engine)

    monkeypatch.setattr(diagnostics, "inspect_database", counted)
    now = [0.0]
    cache = diagnostics.ReportCache(im.store.engine, seconds=10, clock=lambda: now[0])
    first = await cache.get()
    now[0] = 9.9
    assert await cache.get() is first
    now[0] = 10.0
    assert await cache.get() is not first
    assert looks == 2


async def test_a_schema_behind_the_code_is_unhealthy(
    client: httpx.AsyncClient, im: Imperium
) -> None:
    async with im.store.engine.begin() as conn:
        await conn.execute(sa.text("UPDATE alembic_version SET version_num = '0001'"))

    response = await client.get("/api/database/health")

    assert response.status_code == 503, response.text
    body = response.json()
    assert (body["status"], body["schema"]["current"]) == ("unhealthy", False)
    assert body["schema"]["revision"] == ["0001"]
    assert "imperium db upgrade" in body["detail"]


# ---------------------------------------------------------------------- database unreachable
@pytest.fixture
async def unreachable(
    im: Imperium, migrated_database_url: str, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    """An app whose runtime reads a database that does not answer: a SQLite file in a
    directory that does not exist, or a PostgreSQL port nobody listens on. The scheduler
    itself (in memory) is the live one."""
    if migrated_database_url.startswith("sqlite"):
        url = f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'gone.db'}"
    else:
        url = "postgresql+asyncpg://imperium@127.0.0.1:1/gone"
    db = Database(create_engine(url))
    store = SqlStore(db)
    agents = AgentService(store, store, SystemClock(), lambda _type: None)
    gone = dataclasses.replace(
        im, store=store, agents=agents, database_reports=diagnostics.ReportCache(db.engine)
    )
    async with _client(gone) as http:
        yield http
    await store.close()


async def test_an_unreachable_database_is_a_503_that_says_so(
    unreachable: httpx.AsyncClient,
) -> None:
    for path in ("/api/status", "/api/agents/status", "/api/database/health", "/api/v1/metrics"):
        problem(await unreachable.get(path), 503, "the database did not answer")

    health = await unreachable.get("/api/health")
    assert health.status_code == 503
    body = health.json()
    assert (body["status"], body["database"]["status"]) == ("unhealthy", "error")
    assert body["database"]["error"]  # the driver's reason, in one line
    assert body["scheduler"]["status"] == "running"


@pytest.mark.parametrize("migrated_database_url", ON_POSTGRES, indirect=True)
async def test_a_database_that_does_not_answer_in_time_is_a_503(
    client: httpx.AsyncClient,
    im: Imperium,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another session holds an exclusive lock on ``tasks``: counting them waits, and the
    wait is cut short with a 503 rather than hanging the request."""
    monkeypatch.setattr(api_metrics, "DATABASE_TIMEOUT", 0.3)
    async with im.store.engine.connect() as locker:
        await locker.execute(sa.text("LOCK TABLE tasks IN ACCESS EXCLUSIVE MODE"))
        body = problem(await client.get("/api/status"), 503, "did not answer within 0.3s")
        assert body["title"] == "Service Unavailable"
        await locker.rollback()
    status = await client.get("/api/status")  # the pool recovers once the lock is gone
    assert status.status_code == 200, status.text
