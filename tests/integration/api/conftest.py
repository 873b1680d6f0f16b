"""The API in-process (httpx over ASGI) on a started ``Imperium`` with a real database.

- ``im``: the started runtime, over ``migrated_database_url`` (SQLite and PostgreSQL,
  already migrated: opening does not migrate again, which tests/integration/engine and the
  acceptance tests cover).
- ``client``: an ``httpx.AsyncClient`` for ``create_app(im)``, addressed to 127.0.0.1 (a
  server without API keys answers only requests addressed to a loopback name).
- ``memory_client``: the same on the in-memory stores (``MemoryStore``, no database), for
  input that is refused before anything is stored (how a request body is parsed does not
  depend on the database).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from imperium.adapters.storage.memory import MemoryStore
from imperium.interfaces.api import create_app
from imperium.runtime import Imperium
from imperium.settings import Settings

PROBLEM = "application/problem+json"
ENDED = {"succeeded", "failed", "dead", "cancelled", "timed_out"}


@pytest.fixture
async def im(migrated_database_url: str) -> AsyncIterator[Imperium]:
    runtime = await _started(migrated_database_url)
    yield runtime
    await runtime.close()


@pytest.fixture
async def client(im: Imperium) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(im) as http:
        yield http


@pytest.fixture
async def memory_client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    runtime = Imperium.build(_settings(f"sqlite:///{tmp_path / 'unused.db'}"), MemoryStore())
    await runtime.start()
    async with _client(runtime) as http:
        yield http
    await runtime.close()


def _settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url, poll_interval=0.05, drain_seconds=0.2,
        retry_base_seconds=0.01, retry_cap_seconds=0.05,
    )  # fmt: skip


async def _started(migrated_database_url: str) -> Imperium:
    runtime = await Imperium.open(_settings(migrated_database_url), migrate=False)
    await runtime.start()
    return runtime


def _client(runtime: Imperium) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(runtime))
    return httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1")


def problem(response: httpx.Response, status: int, *phrases: str) -> dict[str, Any]:
    """Assert ``response`` is an RFC 9457 problem with ``status`` whose detail contains
    every phrase; returns its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["title"]
    for phrase in phrases:
        assert phrase in body["detail"], body["detail"]
    return body


async def register(http: httpx.AsyncClient, agent_id: str, agent_type: str, **fields: Any) -> None:
    body = {"agent_id": agent_id, "type": agent_type, "capabilities": [agent_id], **fields}
    response = await http.post("/api/v1/agents", json=body)
    assert response.status_code == 201, response.text


async def submit(http: httpx.AsyncClient, wait: float | None = None, **task: Any) -> dict[str, Any]:
    params = {"wait": wait} if wait is not None else {}
    response = await http.post("/api/v1/tasks", json=task, params=params)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def until_ended(http: httpx.AsyncClient, task_id: str, within: float = 20) -> dict[str, Any]:
    """Poll the task until it has ended (as the database shows it)."""
    async with asyncio.timeout(within):
        while True:
            task: dict[str, Any] = (await http.get(f"/api/v1/tasks/{task_id}")).json()
            if task["state"] in ENDED:
                return task
            await asyncio.sleep(0.02)
