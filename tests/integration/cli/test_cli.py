"""The CLI in-process (Typer's CliRunner) against SQLite and PostgreSQL, without a
running scheduler: registry commands, submission, inspection and the errors a user can
cause, which must be one clear line and never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from imperium.interfaces.cli.main import app


@pytest.fixture
def cli(database_url: str):
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, [*args], env={"DATABASE_URL": database_url, "COLUMNS": "250"})

    return invoke


def ok(result) -> str:
    assert result.exit_code == 0, result.output
    return result.output


def failed(result, *phrases: str) -> str:
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output
    for phrase in phrases:
        assert phrase in result.output, result.output
    return result.output


def test_agent_lifecycle(cli) -> None:
    ok(cli("agents", "register", "e1", "--type", "echo", "-c", "x", "-c", "y",
           "--max-concurrency", "3", "--resource", "cpu=2", "--config", '{"k": 1}'))  # fmt: skip
    agents = {a["agent_id"]: a for a in json.loads(ok(cli("agents", "list", "--json")))}
    assert agents["e1"]["capabilities"] == ["x", "y"]
    assert agents["e1"]["max_concurrency"] == 3
    assert agents["e1"]["resources"] == {"cpu": 2.0}
    assert agents["e1"]["config"] == {"k": 1}
    assert agents["e1"]["executions"] == 0
    assert agents["e1"]["success_rate"] is None  # no data, no invented rate

    ok(cli("agents", "update", "e1", "--max-concurrency", "5", "-c", "z"))
    ok(cli("agents", "pause", "e1"))
    shown = json.loads(ok(cli("agents", "show", "e1", "--json")))
    assert (shown["status"], shown["max_concurrency"], shown["capabilities"]) == (
        "paused",
        5,
        ["z"],
    )
    ok(cli("agents", "resume", "e1"))
    ok(cli("agents", "retire", "e1"))
    failed(cli("agents", "update", "e1", "--priority", "high"), "retired")
    assert json.loads(ok(cli("agents", "show", "e1", "--json")))["status"] == "retired"


def test_agent_registration_errors(cli) -> None:
    failed(cli("agents", "register", "a", "--type", "nope"), "unknown agent type 'nope'", "echo")
    failed(
        cli("agents", "register", "a", "--type", "no_such_module:fn"),
        "cannot import module 'no_such_module'",
    )
    ok(cli("agents", "register", "a", "--type", "echo"))
    failed(cli("agents", "register", "a", "--type", "echo"), "already exists")
    failed(cli("agents", "register", "b", "--type", "echo", "--max-concurrency", "0"),
           "max_concurrency")  # fmt: skip
    failed(cli("agents", "register", "b", "--type", "echo", "--config", "{oops"), "not valid JSON")
    failed(cli("agents", "register", "b", "--type", "echo", "--resource", "cpu"), "name=amount")
    failed(cli("agents", "show", "ghost"), "no agent with id 'ghost'")
    failed(cli("agents", "update", "a"), "nothing to change")


def test_submit_stores_a_durable_submitted_task(cli) -> None:
    task = json.loads(ok(cli("submit", "echo", "--payload", '{"n": 1}', "--priority", "high",
                             "--deadline", "+5m", "--resource", "cpu=1", "--json")))  # fmt: skip
    assert task["state"] == "submitted"
    assert (task["priority"], task["payload"], task["resources"]) == (
        "high",
        {"n": 1},
        {"cpu": 1.0},
    )
    shown = json.loads(ok(cli("tasks", "show", task["id"], "--json")))
    assert [e["event_type"] for e in shown["events"]] == ["task.submitted"]
    listed = json.loads(ok(cli("tasks", "list", "--state", "submitted", "--json")))
    assert [t["id"] for t in listed] == [task["id"]]
    ok(cli("tasks", "cancel", task["id"]))
    assert json.loads(ok(cli("tasks", "show", task["id"], "--json")))["cancel_requested"] is True


def test_submit_errors(cli, tmp_path: Path) -> None:
    failed(cli("submit", "echo", "--payload", "{bad"), "not valid JSON")
    failed(cli("submit", "echo", "--priority", "urgent"), "priority 'urgent'")
    failed(cli("submit", "echo", "--max-attempts", "0"), "max_attempts")
    failed(cli("submit", "echo", "--deadline", "tomorrow"), "deadline 'tomorrow'")
    failed(cli("submit", "echo", "--depends-on", "missing-id"), "not a known task id")
    failed(cli("submit"), "give a task TYPE or --workflow FILE")
    cyclic = tmp_path / "cycle.json"
    cyclic.write_text(json.dumps({"tasks": [
        {"name": "a", "type": "echo", "depends_on": ["c"]},
        {"name": "b", "type": "echo", "depends_on": ["a"]},
        {"name": "c", "type": "echo", "depends_on": ["b"]},
    ]}))  # fmt: skip
    out = failed(cli("submit", "--workflow", str(cyclic)), "cycle")
    assert all(name in out for name in ("a", "b", "c"))
    assert json.loads(ok(cli("tasks", "list", "--json"))) == []  # nothing stored
    failed(cli("submit", "--workflow", str(tmp_path / "absent.json")), "cannot read")


def test_task_queries_and_errors(cli) -> None:
    failed(cli("tasks", "show", "nope"), "no task with id nope")
    failed(cli("tasks", "list", "--state", "sleeping"), "state 'sleeping'")
    task = json.loads(ok(cli("submit", "echo", "--json")))
    failed(cli("tasks", "retry", task["id"]), "only dead, timed_out or failed")


def test_db_upgrade_is_idempotent(cli) -> None:
    assert "up to date" in ok(cli("db", "upgrade"))
    assert "up to date" in ok(cli("db", "upgrade"))
