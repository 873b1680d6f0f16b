"""``imperium teams`` against SQLite and PostgreSQL: a team is stored with its members'
tasks for the scheduler, listed and shown; bad requests say what to change; ``--wait``
without a scheduler says so instead of waiting forever. (A scheduler running the members
and recording the team: tests/integration/api/test_teams_api.py.)"""

from __future__ import annotations

import asyncio
import json

import pytest
from typer.testing import CliRunner

from imperium.adapters.storage.sql import SqlStore
from imperium.interfaces.cli.main import app


@pytest.fixture
def cli(migrated_database_url: str):
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(
            app, [*args], env={"DATABASE_URL": migrated_database_url, "COLUMNS": "250"}
        )

    return invoke


def test_submit_list_and_show_a_team(cli) -> None:
    for agent in ("a1", "a2", "a3"):
        registered = cli("agents", "register", agent, "--type", "echo", "-c", "review")
        assert registered.exit_code == 0, registered.output
    assert "no team tasks yet" in cli("teams", "list").output

    submitted = cli("teams", "submit", "review", "--size", "2", "--payload", '{"n": 1}', "--json")
    assert submitted.exit_code == 0, submitted.output
    team = json.loads(submitted.stdout)
    assert team["state"] == "running"
    assert team["chosen_by"] == "router"
    assert len(team["members"]) == 2
    assert set(team["members"]) <= {"a1", "a2", "a3"}
    assert team["member_states"] == dict.fromkeys(team["members"], "submitted")  # stored

    tasks = json.loads(cli("tasks", "list", "--workflow", team["id"], "--json").stdout)
    assert {t["id"] for t in tasks} == set(team["task_ids"].values())
    assert {t["payload"]["n"] for t in tasks} == {1}

    listed = json.loads(cli("teams", "list", "--json").stdout)
    assert [t["id"] for t in listed] == [team["id"]]
    assert json.loads(cli("teams", "list", "--state", "succeeded", "--json").stdout) == []
    shown = json.loads(cli("teams", "show", team["id"], "--json").stdout)
    assert shown == team
    text = cli("teams", "show", team["id"]).output
    assert "running" in text
    assert all(m in text for m in team["members"])
    assert "no team has ended yet" in cli("teams", "combinations").output
    advice = json.loads(cli("teams", "recommend", "review", "--size", "2", "--json").stdout)
    assert len(advice) == 3  # the pairs of a1, a2, a3, none tried yet
    assert {tuple(t["members"]) for t in advice} == {("a1", "a2"), ("a1", "a3"), ("a2", "a3")}
    assert "teams of 2 for review" in cli("teams", "recommend", "review", "-k", "2").output

    given = cli("teams", "submit", "review", "-m", "a3", "-m", "a1", "--quorum", "1", "--json")
    assert given.exit_code == 0, given.output
    chosen = json.loads(given.stdout)
    assert (chosen["members"], chosen["quorum"], chosen["chosen_by"]) == (["a1", "a3"], 1, "user")


def test_errors_say_what_to_change(cli) -> None:
    assert cli("agents", "register", "a1", "--type", "echo", "-c", "review").exit_code == 0
    too_big = cli("teams", "submit", "review", "--size", "2")
    assert too_big.exit_code == 1
    assert "needs 2 different active agents" in too_big.output
    assert "1 can (a1)" in too_big.output
    missing = cli("teams", "submit", "review", "-m", "a1", "-m", "ghost")
    assert missing.exit_code == 1
    assert "no agent with id ghost" in missing.output
    assert "not valid JSON" in cli("teams", "submit", "review", "--payload", "{").output
    assert "unknown priority" in cli("teams", "submit", "review", "--priority", "urgent").output
    assert "no team task with id nope" in cli("teams", "show", "nope").output

    assert cli("agents", "register", "a2", "--type", "echo", "-c", "review").exit_code == 0
    waiting = cli("teams", "submit", "review", "--size", "2", "--wait")
    assert waiting.exit_code == 1
    assert "no scheduler is running" in waiting.output
    assert "imperium serve" in waiting.output
    assert len(json.loads(cli("teams", "list", "--json").stdout)) == 1  # stored all the same


def test_cancel_asks_the_scheduler_to_stop_the_open_members(
    cli, migrated_database_url: str
) -> None:
    for agent in ("a1", "a2"):
        assert cli("agents", "register", agent, "--type", "echo", "-c", "review").exit_code == 0
    team = json.loads(cli("teams", "submit", "review", "--size", "2", "--json").stdout)
    cancelled = cli("teams", "cancel", team["id"])
    assert cancelled.exit_code == 0, cancelled.output
    assert "the scheduler stops them" in cancelled.output
    task_ids = list(team["task_ids"].values())
    requested = asyncio.run(_cancel_requests(migrated_database_url, task_ids))
    assert requested == set(team["task_ids"].values())
    assert "no team task with id nope" in cli("teams", "cancel", "nope").output


async def _cancel_requests(database_url: str, task_ids: list[str]) -> set[str]:
    store = await SqlStore.connect(database_url)
    try:
        return {t for t in task_ids if await store.cancel_requested(t)}
    finally:
        await store.close()
