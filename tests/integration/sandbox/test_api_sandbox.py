"""Code submitted through the API (the server here runs as whoever runs the tests, root on
the project's machines) cannot read the server's database or environment, reach the
network or write outside its directory, and its result's ``isolation`` says so."""

from __future__ import annotations

import asyncio
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from imperium.adapters.sandbox import DEFAULT_UID, Host
from imperium.domain.specs import TaskSpec
from imperium.domain.states import TaskState
from imperium.runtime import Imperium
from imperium.settings import Settings

pytestmark = pytest.mark.slow


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "imperium.db"


BUILTIN_AGENTS = "sandbox"


@pytest.fixture
async def client(api_client: httpx.AsyncClient) -> httpx.AsyncClient:
    return api_client


@pytest.fixture
def api_port() -> Iterator[int]:
    """Stands for the API's port on the host's loopback."""
    server = socket.create_server(("127.0.0.1", 0))
    yield server.getsockname()[1]
    server.close()


async def test_code_sent_to_the_api_cannot_reach_the_server(
    client: httpx.AsyncClient, database: Path, api_port: int, tmp_path: Path
) -> None:
    code = (
        "import json, os, socket\n"
        "outcome = {'uid': os.getuid()}\n"
        "def attempt(name, action):\n"
        "    try:\n"
        "        action()\n"
        "        outcome[name] = 'done'\n"
        "    except OSError as exc:\n"
        "        outcome[name] = f'refused: {exc.errno}'\n"
        f"attempt('database', lambda: open({str(database)!r}, 'rb').read())\n"
        f"attempt('environ', lambda: open('/proc/{os.getpid()}/environ', 'rb').read())\n"
        f"attempt('api', lambda: socket.create_connection(('127.0.0.1', {api_port}), 5))\n"
        f"attempt('write', lambda: open({str(tmp_path / 'planted')!r}, 'w').write('x'))\n"
        "print(json.dumps(outcome))\n"
    )
    response = await client.post(
        "/api/v1/tasks",
        params={"wait": 60},
        json={"type": "run_code", "payload": {"code": code}, "max_attempts": 1},
    )
    assert response.status_code == 201, response.text
    task = response.json()
    for _ in range(600):  # a loaded machine may need more than the minute waited
        if task["state"] not in ("queued", "leased", "running"):
            break
        await asyncio.sleep(0.5)
        task = (await client.get(f"/api/v1/tasks/{task['id']}")).json()
    assert task["state"] == "succeeded", task
    result = task["result"]
    outcome = json.loads(result["stdout"])
    assert outcome["uid"] == (DEFAULT_UID if os.geteuid() == 0 else os.getuid()) != 0
    assert [name for name, how in outcome.items() if how == "done"] == [], outcome
    assert not (tmp_path / "planted").exists()
    isolation = result["isolation"]
    assert isolation["sandbox"] == "bubblewrap"
    assert isolation["network"].startswith("none")
    assert "(not root)" in isolation["user"]
    assert not any(str(tmp_path).startswith(p) for p in isolation["read_only"])


@pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox uid applies to a root server only")
async def test_the_sandbox_uid_setting_reaches_the_agent(
    tmp_path: Path, sandbox_host: Host
) -> None:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'uid.db'}", builtin_agents="sandbox",
        poll_interval=0.05, drain_seconds=0.2, sandbox_uid=4242,
    )  # fmt: skip
    runtime = await Imperium.open(settings)
    await runtime.start()
    try:
        task = await runtime.engine.submit(
            TaskSpec(type="run_code", payload={"code": "import os; print(os.getuid())"})
        )
        done = await asyncio.wait_for(runtime.engine.wait_for(task.id), timeout=120)
    finally:
        await runtime.close()
    assert done.state is TaskState.SUCCEEDED, done.error_message
    assert isinstance(done.result, dict)
    assert done.result["stdout"].strip() == "4242"
