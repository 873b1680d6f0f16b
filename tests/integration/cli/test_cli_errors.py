"""The CLI's answers to bad input found in review: invalid settings, malformed workflow
files, a task pinned to an unknown agent and an agent config that is not an object are one
clear line (exit 1, never a traceback); a relative deadline in a workflow file is read."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from imperium.interfaces.cli.main import app


@pytest.fixture
def cli(migrated_database_url: str):
    runner = CliRunner()

    def invoke(*args: str, **env: str) -> Result:
        return runner.invoke(
            app, [*args], env={"DATABASE_URL": migrated_database_url, "COLUMNS": "250", **env}
        )

    return invoke


def ok(result: Result) -> str:
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def failed(result: Result, *phrases: str) -> str:
    """Exit 1 with a message: a crash (an exception other than the CLI's own exit) is not
    a refusal, even though CliRunner shows no traceback for it."""
    assert result.exit_code == 1, (result.output, result.exception)
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    for phrase in phrases:
        assert phrase in result.output, result.output
    return result.output


def write_workflow(tmp_path: Path, document: Any) -> str:
    path = tmp_path / "workflow.json"
    path.write_text(json.dumps(document))
    return str(path)


def epoch(iso_time: str) -> float:
    return dt.datetime.fromisoformat(iso_time).timestamp()


# ---------------------------------------------------------------- settings


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "IMPERIUM_LEASE_SECONDS",
            "-1",
            "invalid setting: IMPERIUM_LEASE_SECONDS: Input should be greater than 0",
        ),
        (
            "LOG_LEVEL",
            "loud",
            "invalid setting: LOG_LEVEL: Input should be 'DEBUG', 'INFO', 'WARNING', "
            "'ERROR' or 'CRITICAL'",
        ),
        (
            "IMPERIUM_SQLITE_SYNCHRONOUS",
            "sometimes",
            "invalid setting: IMPERIUM_SQLITE_SYNCHRONOUS: Input should be 'OFF', 'NORMAL', "
            "'FULL' or 'EXTRA'",
        ),
    ],
)
def test_an_invalid_setting_is_a_message(cli, name: str, value: str, message: str) -> None:
    out = failed(cli("tasks", "list", **{name: value}), message)
    assert out == f"error: {message}\n"
    failed(cli("db", "upgrade", **{name: value}), message)


def test_setting_names_of_levels_are_read_in_any_case(cli) -> None:
    assert json.loads(ok(cli("tasks", "list", "--json", IMPERIUM_SQLITE_SYNCHRONOUS="full"))) == []
    assert json.loads(ok(cli("tasks", "list", "--json", LOG_LEVEL=" debug "))) == []


# ---------------------------------------------------------------- workflow files


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            {"tasks": [{"name": "a", "type": "echo", "max_attempts": 2.7}]},
            "workflow is invalid: tasks.0.max_attempts: Input should be a valid integer",
        ),
        (
            {"tasks": [{"name": "a", "type": "echo", "max_attempts": "2"}]},
            "workflow is invalid: tasks.0.max_attempts: Input should be a valid integer",
        ),
        (
            {"tasks": [{"name": "a", "type": "echo", "timeout": "soon"}]},
            "workflow is invalid: tasks.0.timeout: Input should be a valid number, unable to "
            "parse string as a number",
        ),
        (
            {"tasks": [1]},
            "workflow is invalid: tasks.0: Input should be a valid dictionary or instance of "
            "TaskIn",
        ),
        (
            {"tasks": []},
            "workflow is invalid: tasks: List should have at least 1 item after validation, not 0",
        ),
        ({"name": "no tasks"}, "workflow is invalid: tasks: Field required"),
        (
            {"tasks": [{"name": "a", "type": "echo", "retries": 2}]},
            "workflow is invalid: tasks.0.retries: Extra inputs are not permitted",
        ),
        (
            {"tasks": [{"name": "a", "type": "echo", "deadline": "+5 minutes"}]},
            "workflow is invalid: deadline '+5 minutes' must look like +30s, +5m, +2h",
        ),
    ],
    ids=[
        "fractional-attempts",
        "string-attempts",
        "word-timeout",
        "task-not-object",
        "no-tasks",
        "tasks-missing",
        "unknown-field",
        "bad-deadline",
    ],
)
def test_a_malformed_workflow_file_is_refused_and_nothing_is_stored(
    cli, tmp_path: Path, document: Any, message: str
) -> None:
    path = write_workflow(tmp_path, document)
    out = failed(cli("submit", "--workflow", path), message)
    assert out.replace("\n", "") == f"error: {path}: {message}"
    assert json.loads(ok(cli("tasks", "list", "--json"))) == []


def test_a_numeric_string_timeout_in_a_workflow_file_is_read_as_a_number(
    cli, tmp_path: Path
) -> None:
    path = write_workflow(tmp_path, {"tasks": [{"name": "a", "type": "echo", "timeout": "30"}]})
    [task] = json.loads(ok(cli("submit", "--workflow", path, "--json")))["tasks"]
    shown = json.loads(ok(cli("tasks", "show", task["id"], "--json")))
    assert (shown["state"], shown["timeout"]) == ("submitted", 30.0)


def test_a_relative_deadline_in_a_workflow_file_is_counted_from_now(cli, tmp_path: Path) -> None:
    path = write_workflow(
        tmp_path, {"name": "w", "tasks": [{"name": "a", "type": "echo", "deadline": "+5m"}]}
    )
    before = time.time()
    submitted = json.loads(ok(cli("submit", "--workflow", path, "--json")))
    after = time.time()
    [task] = submitted["tasks"]
    shown = json.loads(ok(cli("tasks", "show", task["id"], "--json")))
    assert (shown["name"], shown["state"]) == ("a", "submitted")
    assert shown["deadline"] == task["deadline"]
    # shown to the millisecond, truncated
    assert before + 300.0 - 0.001 <= epoch(shown["deadline"]) <= after + 300.0


# ---------------------------------------------------------------- submit and register


def test_a_task_pinned_to_an_unregistered_agent_is_refused(cli, tmp_path: Path) -> None:
    message = "the task is pinned to agent 'ghost', which is not registered; register it first"
    failed(cli("submit", "echo", "--agent", "ghost"), message)
    path = write_workflow(tmp_path, {"tasks": [{"name": "a", "type": "echo", "agent": "ghost"}]})
    failed(cli("submit", "--workflow", path), message)
    assert json.loads(ok(cli("tasks", "list", "--json"))) == []


def test_a_task_pinned_to_a_retired_agent_is_refused(cli) -> None:
    ok(cli("agents", "register", "old", "--type", "echo"))
    ok(cli("agents", "retire", "old"))
    failed(cli("submit", "echo", "--agent", "old"), "the task is pinned to retired agent 'old'")
    ok(cli("agents", "register", "e1", "--type", "echo"))
    task = json.loads(ok(cli("submit", "echo", "--agent", "e1", "--json")))
    assert (task["state"], task["pinned_agent"]) == ("submitted", "e1")


@pytest.mark.parametrize("config", ["[1]", '"model"', "3"])
def test_an_agent_config_that_is_not_an_object_is_refused(cli, config: str) -> None:
    failed(
        cli("agents", "register", "x", "--type", "echo", "--config", config),
        'agent config must be a JSON object, e.g. {"model": "small"}',
    )
    assert json.loads(ok(cli("agents", "list", "--json"))) == []


@pytest.mark.parametrize("config", ["[]", "null", "0", "false", '""'])
def test_empty_but_non_object_configs_are_refused_too(cli, config: str) -> None:
    result = cli("agents", "register", "x", "--type", "echo", "--config", config)
    assert result.exit_code != 0
    assert "JSON object" in result.output
