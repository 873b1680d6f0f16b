"""The built-in agents in a real server (SQLite and PostgreSQL): registered by default,
reached as tasks through the engine and the HTTP API, each doing its job on real input."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from imperium.interfaces.api import create_app
from imperium.runtime import Imperium
from imperium.settings import Settings

DATA = Path(__file__).resolve().parents[2] / "data"
TASKS = "/api/v1/tasks"


@pytest.fixture
async def im(migrated_database_url: str) -> AsyncIterator[Imperium]:
    runtime = await Imperium.open(
        Settings(
            database_url=migrated_database_url, poll_interval=0.05, drain_seconds=0.2,
            builtin_agents="all", guardian_paths=str(DATA / "guardian"),
        ),
        migrate=False,
    )  # fmt: skip
    await runtime.start()
    yield runtime
    await runtime.close()


@pytest.fixture
async def client(im: Imperium) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(im))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        yield http


async def run(client: httpx.AsyncClient, task_type: str, payload: Any) -> dict[str, Any]:
    response = await client.post(
        TASKS, params={"wait": 60}, json={"type": task_type, "payload": payload, "max_attempts": 1}
    )
    assert response.status_code == 201, response.text
    task = response.json()
    assert task["state"] == "succeeded", task
    return task


async def test_every_built_in_agent_is_registered(client: httpx.AsyncClient) -> None:
    listed = (await client.get("/api/v1/agents")).json()
    agents = {a["agent_id"]: a for a in listed["items"]}
    assert {"echo", "guardian", "sandbox", "conquest", "imperium"} <= set(agents)
    assert set(agents["guardian"]["capabilities"]) == {"code_review", "security_scan"}


async def test_guardian_reviews_a_snippet(client: httpx.AsyncClient) -> None:
    code = "import subprocess\n\ndef run(cmd):\n    return subprocess.call(cmd, shell=True)\n"
    task = await run(client, "code_review", {"code": code, "filename": "runner.py"})
    findings = task["result"]["findings"]
    shell = next(f for f in findings if f["rule"] == "B602")
    assert (shell["tool"], shell["file"], shell["line"]) == ("bandit", "runner.py", 4)
    assert shell["severity"] in {"high", "critical"}
    assert "shell=False" in shell["suggestion"]
    assert task["agent_id"] == "guardian"


async def test_sandbox_runs_tests_isolated(client: httpx.AsyncClient) -> None:
    files = {
        "solution.py": "def add(a, b):\n    return a + b\n",
        "test_solution.py": (
            "from solution import add\n\n"
            "def test_add():\n    assert add(2, 3) == 5\n\n"
            "def test_wrong():\n    assert add(2, 2) == 5\n"
        ),
    }
    task = await run(client, "run_tests", {"files": files})
    result = task["result"]
    assert (result["tests"]["passed"], result["tests"]["failed"]) == (1, 1)
    assert result["exit_code"] == 1
    assert "network" in result["isolation"]


async def test_conquest_classifies_a_real_failing_log(client: httpx.AsyncClient) -> None:
    log = next((DATA / "logs" / "dependency_conflict").glob("*.log")).read_text()
    task = await run(client, "log_analysis", {"log": log})
    assert task["result"]["category"] == "dependency_conflict"
    assert task["result"]["evidence"]


async def test_the_security_scan_routine_scans_the_configured_paths(im: Imperium) -> None:
    assert im.routines is not None
    routine = await im.routines.run_now("security_scan")
    assert routine.last_status == "submitted"
    import asyncio

    async with asyncio.timeout(60):
        task = await im.engine.wait_for(str(routine.last_result["task_id"]))
    assert (task.state, task.agent_id) == ("succeeded", "guardian")
    rules = {f["rule"] for f in task.result["findings"]}
    assert "B602" in rules or "B605" in rules or "B307" in rules


async def test_agents_read_files_only_under_the_allowed_roots(client: httpx.AsyncClient) -> None:
    for task_type, payload in (
        ("code_review", {"path": "/etc"}),
        ("log_analysis", {"path": "/etc/hostname"}),
        ("run_tests", {"path": "/root"}),
    ):
        response = await client.post(
            TASKS, params={"wait": 60},
            json={"type": task_type, "payload": payload, "max_attempts": 1},
        )  # fmt: skip
        task = response.json()
        assert task["state"] == "failed", task
        assert "outside the allowed roots" in task["error_message"]
