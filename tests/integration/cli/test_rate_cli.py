"""``imperium tasks rate``: a rating of an ended task (named by a unique start of its id) is
stored with "cli" as who gave it, and the scheduler's router learns it at its next start;
a task that cannot be rated, or a bad choice of options, is refused with a message."""

from __future__ import annotations

import asyncio
import json

from imperium.domain.specs import TaskSpec
from imperium.runtime import Imperium
from imperium.settings import Settings


async def _echoed(database_url: str) -> str:
    """An echo task run to its end by a scheduler, which then stops."""
    settings = Settings(database_url=database_url, poll_interval=0.05, drain_seconds=0.2)
    runtime = await Imperium.open(settings, migrate=False)
    await runtime.start()
    try:
        task = await runtime.engine.submit(TaskSpec(type="echo", payload="hi"))
        await asyncio.wait_for(runtime.engine.wait_for(task.id), 20)
        return task.id
    finally:
        await runtime.close()


async def _echo_estimate(database_url: str) -> float:
    settings = Settings(database_url=database_url, poll_interval=0.05, drain_seconds=0.2)
    runtime = await Imperium.open(settings, migrate=False)
    await runtime.start()
    try:
        return runtime.learner.router.estimate("echo", "echo").success
    finally:
        await runtime.close()


def test_a_rating_by_prefix_is_stored_and_reaches_routing_at_start(
    cli, migrated_database_url: str
) -> None:
    task_id = asyncio.run(_echoed(migrated_database_url))
    before = asyncio.run(_echo_estimate(migrated_database_url))
    rated = cli("tasks", "rate", task_id[:-4], "--down", "--comment", "wrong", "--json")
    assert rated.exit_code == 0, rated.output
    given = json.loads(rated.stdout)
    assert (given["task_id"], given["score"], given["comment"]) == (task_id, 0.0, "wrong")
    assert (given["given_by"], given["agent_id"], given["attempt"]) == ("cli", "echo", 1)
    plain = cli("tasks", "rate", task_id, "--score", "0.25")
    assert plain.exit_code == 0, plain.output
    assert "next learning cycle or start" in plain.stdout
    assert asyncio.run(_echo_estimate(migrated_database_url)) < before


def test_bad_ratings_are_refused_with_a_message(cli) -> None:
    pending = json.loads(cli("submit", "nobody-takes-this", "--json").stdout)["id"]
    refused = cli("tasks", "rate", pending, "--up")
    assert refused.exit_code == 1
    assert "only a task that has ended" in refused.output
    assert "Traceback" not in refused.output
    both = cli("tasks", "rate", pending, "--up", "--down")
    assert both.exit_code == 1
    assert "one of --up, --down or --score" in both.output
    assert cli("tasks", "rate", pending, "--score", "2").exit_code == 2
    unknown = cli("tasks", "rate", "ffffffffffff", "--up")
    assert unknown.exit_code == 1
    assert "no task with id" in unknown.output
