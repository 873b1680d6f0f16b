"""``imperium custody`` and ``imperium proposals`` against SQLite and PostgreSQL. (A
custody test is a task: the API tests run it against a live scheduler.)"""

from __future__ import annotations

import asyncio
import json

import pytest
from typer.testing import CliRunner

from imperium.adapters.storage.sql import SqlStore
from imperium.domain.custody import Category, CustodyResult, Difficulty, replay
from imperium.interfaces.cli.main import app


@pytest.fixture
def cli(migrated_database_url: str):
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(
            app, [*args], env={"DATABASE_URL": migrated_database_url, "COLUMNS": "250"}
        )

    return invoke


def seed_custody(database_url: str, agent: str, passes: int) -> str:
    """A custody result and record for ``agent`` in a migrated database."""

    async def go() -> str:
        store = await SqlStore.connect(database_url)
        try:
            record = replay(agent, [(True, 1_800_000_000.0 + i) for i in range(passes)])
            result = CustodyResult(
                "r-1", agent, "sec-b-shell-true", 1, Category.SECURITY_AWARENESS,
                Difficulty.BASIC, None, {"findings": []}, 1.0, True, 1.0,
                {"checks": [{"kind": "contains", "ok": True}]}, 0.5, 50, 1_800_000_000.0,
            )  # fmt: skip
            await store.save_custody_result(result, record)
        finally:
            await store.close()
        return result.result_id

    return asyncio.run(go())


def test_status_show_and_the_proposal_lifecycle(cli, migrated_database_url: str) -> None:
    assert cli("agents", "register", "scout", "--type", "remote").exit_code == 0
    assert "no agent has taken a custody test" in cli("custody", "status").output
    refused = cli("proposals", "submit", "scout", "--title", "Cache DNS", "--description", "x")
    assert refused.exit_code == 1
    assert "may not submit proposals" in refused.output

    result_id = seed_custody(migrated_database_url, "scout", passes=3)
    status = json.loads(cli("custody", "status", "scout", "--json").stdout)
    assert (status["custody_level"], status["custody_xp"], status["can_create_proposals"]) == (
        2, 150, True,
    )  # fmt: skip
    shown = json.loads(cli("custody", "show", result_id).stdout)
    assert shown["evaluation"]["checks"][0]["ok"] is True

    submitted = cli(
        "proposals", "submit", "scout", "--title", "Cache DNS", "--description", "x", "--json"
    )
    created = json.loads(submitted.stdout)
    assert created["status"] == "pending"
    again = cli("proposals", "submit", "scout", "--title", "cache dns", "--description", " x")
    assert again.exit_code == 1
    assert "already exists" in again.output
    assert cli("proposals", "apply", created["id"], "--by", "ops").exit_code == 1
    approved = cli("proposals", "approve", created["id"], "--by", "ops", "--note", "go")
    assert "approved (by ops)" in approved.output
    assert "applied" in cli("proposals", "apply", created["id"], "--by", "ops").output
    listed = json.loads(cli("proposals", "list", "--json").stdout)
    assert [(p["id"], p["status"], p["decided_by"]) for p in listed] == [
        (created["id"], "applied", "ops")
    ]


def test_a_custody_test_needs_a_running_scheduler(cli) -> None:
    assert cli("agents", "register", "scout", "--type", "remote", "-c", "answer").exit_code == 0
    result = cli("custody", "test", "scout")
    assert result.exit_code == 1
    assert "no scheduler is running" in result.output
    assert "Traceback" not in result.output
