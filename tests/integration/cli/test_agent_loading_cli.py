"""Agents whose code lives beside the user: ``agents register`` imports from the working
directory, and an agent the scheduler could not load shows as ``not loaded`` with the
reason in ``agents list``, ``agents show`` and ``status`` (in-process, CliRunner)."""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from pathlib import Path

import pytest

from imperium.adapters.storage.sql import SqlStore
from imperium.domain.models import Event
from imperium.interfaces.cli import agents as agents_cli

AGENT_CODE = "def summarise(payload):\n    return {'summary': str(payload)[:10]}\n"


@pytest.fixture
def module_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A module in a fresh working directory that is not on the import path."""
    name = f"myagents_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(AGENT_CODE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    return name


async def _record(database_url: str, *events: Event, lock: bool = False) -> None:
    """What a scheduler writes: its lock (with ``lock``) and the agents' load events."""
    store = await SqlStore.connect(database_url)
    try:
        if lock:
            assert await store.swap_lock(None, "scheduler-elsewhere", time.time() + 600)
        for event in events:
            await store.log_event(event)
    finally:
        await store.close()


def _load_failed(agent_id: str, error: str, at: float | None = None) -> Event:
    when = time.time() if at is None else at
    return Event("agent.load_failed", when, agent_id=agent_id, data={"error": error})


def test_register_imports_from_the_working_directory(cli, module_here: str) -> None:
    registered = cli("agents", "register", "summariser-1", "--type", f"{module_here}:summarise")
    assert registered.exit_code == 0, registered.output
    assert "registered agent summariser-1" in registered.output


def test_register_says_at_once_when_it_cannot_import(cli, module_here: str) -> None:
    refused = cli("agents", "register", "s1", "--type", "not_a_module_here:summarise")
    assert refused.exit_code == 1
    assert "cannot import module 'not_a_module_here'" in refused.output
    assert json.loads(cli("agents", "list", "--json").stdout) == []


def test_an_agent_the_scheduler_could_not_load_is_shown_not_loaded(
    cli, migrated_database_url: str
) -> None:
    assert cli("agents", "register", "e1", "--type", "echo").exit_code == 0
    listed = json.loads(cli("agents", "list", "--json").stdout)
    assert (listed[0]["loaded"], listed[0]["load_error"]) == (None, None)  # not tried yet

    error = "cannot import module 'myagents': No module named 'myagents'"
    asyncio.run(_record(migrated_database_url, _load_failed("e1", error)))
    [row] = json.loads(cli("agents", "list", "--json").stdout)
    assert (row["status"], row["loaded"], row["load_error"]) == ("active", False, error)
    table = cli("agents", "list").output
    assert "not loaded" in table
    assert "No module named 'myagents'" in table
    assert json.loads(cli("agents", "show", "e1", "--json").stdout)["loaded"] is False
    status = json.loads(cli("status", "--json").stdout)
    assert status["agents"]["not_loaded"] == {"e1": error}
    assert "not loaded" in cli("status").output

    loaded = Event("agent.loaded", time.time() + 1, agent_id="e1")
    asyncio.run(_record(migrated_database_url, loaded))
    [row] = json.loads(cli("agents", "list", "--json").stdout)
    assert (row["loaded"], row["load_error"]) == (True, None)
    assert json.loads(cli("status", "--json").stdout)["agents"]["not_loaded"] == {}


def test_register_reports_a_running_scheduler_that_cannot_load_it(
    cli, migrated_database_url: str, module_here: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(agents_cli, "LOAD_WAIT_SECONDS", 10.0)
    answer = _load_failed("s1", "No module named 'myagents'", at=time.time() + 60)
    asyncio.run(_record(migrated_database_url, answer, lock=True))
    registered = cli("agents", "register", "s1", "--type", f"{module_here}:summarise")
    assert registered.exit_code == 1
    assert "registered, but the running scheduler could not load it" in registered.output
    assert "not loaded" in registered.output
    assert "No module named 'myagents'" in registered.output


def test_register_with_runtime_ray_stores_it_or_names_the_extra(
    cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    from imperium.adapters.executors import runtimes

    registered = cli("agents", "register", "r1", "--type", "echo", "--runtime", "ray",
                     "--stateful", "--json")  # fmt: skip
    assert registered.exit_code == 0, registered.output
    assert json.loads(registered.stdout)["config"] == {"runtime": "ray", "stateful": True}
    monkeypatch.setattr(runtimes, "missing", lambda *modules: modules)  # as without ray
    refused = cli("agents", "register", "r2", "--type", "echo", "--runtime", "ray")
    assert refused.exit_code == 1
    assert "needs ray, which is not installed: pip install 'imperium[ray]'" in " ".join(
        refused.output.split()
    )
    unknown = cli("agents", "register", "r3", "--type", "echo", "--runtime", "k8s")
    assert "unknown runtime 'k8s'" in unknown.output
