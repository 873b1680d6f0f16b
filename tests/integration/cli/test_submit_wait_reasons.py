"""While ``imperium submit --wait`` waits, it says why a task has not started when more
than its turn holds it back: every agent able to take it paused or retired (also after
the wait began), their code not loaded, or the scheduler's own reason for setting it
aside. On SQLite and PostgreSQL; the scheduler is stood in for by its lock."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time

import pytest

from imperium.domain.models import Event
from imperium.domain.specs import TaskSpec
from imperium.domain.states import AgentStatus, TaskState
from imperium.interfaces.cli import _waiting
from imperium.interfaces.cli._reasons import why_not_running
from imperium.runtime import Offline
from imperium.settings import Settings


async def _scheduler_lock_and(database_url: str, *events: Event) -> None:
    """What a running scheduler leaves in the database: its lock, and ``events``."""
    services = await Offline.open(Settings(database_url=database_url))
    try:
        assert await services.store.swap_lock(None, "scheduler-elsewhere", time.time() + 600)
        for event in events:
            await services.store.log_event(event)
    finally:
        await services.close()


def said(result) -> str:
    return " ".join(result.output.split())


@pytest.fixture
def echo_agent(cli) -> str:
    registered = cli("agents", "register", "e1", "--type", "echo", "-c", "echo")
    assert registered.exit_code == 0, registered.output
    return "e1"


def test_a_paused_agent_is_named_with_how_to_resume_it(
    cli, echo_agent: str, migrated_database_url: str
) -> None:
    asyncio.run(_scheduler_lock_and(migrated_database_url))
    assert cli("agents", "pause", echo_agent).exit_code == 0
    waiting = cli("submit", "echo", "--wait", "--wait-timeout", "0.3")
    assert waiting.exit_code == 1
    text = said(waiting)
    assert "not running:" in text
    assert "of the agents able to take it, e1 is paused (`imperium agents resume e1`)" in text
    assert "gave up waiting after 0.3s" in text
    assert "last seen:" in text  # the reason again, where the wait ends


def test_a_task_pinned_to_a_paused_agent_says_so(
    cli, echo_agent: str, migrated_database_url: str
) -> None:
    asyncio.run(_scheduler_lock_and(migrated_database_url))
    assert cli("agents", "register", "e2", "--type", "echo", "-c", "echo").exit_code == 0
    assert cli("agents", "pause", "e2").exit_code == 0
    waiting = cli("submit", "echo", "--agent", "e2", "--wait", "--wait-timeout", "0.3")
    assert waiting.exit_code == 1
    assert "e2 is paused" in said(waiting)


def test_agents_whose_code_did_not_load_are_named_with_the_error(
    cli, echo_agent: str, migrated_database_url: str
) -> None:
    failed = Event(
        "agent.load_failed", time.time(), agent_id=echo_agent, data={"error": "boom: no module"}
    )
    asyncio.run(_scheduler_lock_and(migrated_database_url, failed))
    waiting = cli("submit", "echo", "--wait", "--wait-timeout", "0.3", "--json")
    assert waiting.exit_code == 1
    text = said(waiting)
    assert "could not load the code of the agents able to take it (e1: boom: no module)" in text
    assert waiting.stdout == ""  # stderr only: stdout stays for the JSON


def test_an_agent_retired_while_waiting_is_said_at_the_next_check(
    cli, echo_agent: str, migrated_database_url: str, monkeypatch, capsys
) -> None:
    monkeypatch.setattr(_waiting, "LOCK_CHECK_EVERY", 0.05)
    assert cli("agents", "register", "e2", "--type", "echo", "-c", "echo").exit_code == 0
    asyncio.run(_scheduler_lock_and(migrated_database_url))

    async def scenario() -> str:
        services = await Offline.open(Settings(database_url=migrated_database_url))
        try:
            tasks = await services.submissions.submit([TaskSpec(type="echo")])
            waiting = asyncio.create_task(_waiting.wait_for(services, tasks, 3.0))
            await asyncio.sleep(0.3)
            assert not waiting.done()
            assert capsys.readouterr().err.count("not running") == 0  # e1 and e2 may take it
            await services.agents.set_status("e1", AgentStatus.RETIRED)
            await services.agents.set_status("e2", AgentStatus.PAUSED)
            with pytest.raises(Exception, match="gave up waiting"):
                await waiting
            return " ".join(capsys.readouterr().err.split())
        finally:
            await services.close()

    err = asyncio.run(scenario())
    assert "of the agents able to take it, e1 is retired, e2 is paused" in err
    assert err.count("is not running:") == 1  # said once, not at every check


def test_the_scheduler_s_own_reason_for_setting_a_task_aside(
    cli, echo_agent: str, migrated_database_url: str
) -> None:
    async def scenario() -> str | None:
        services = await Offline.open(Settings(database_url=migrated_database_url))
        try:
            [task] = await services.submissions.submit([TaskSpec(type="echo")])
            queued = dataclasses.replace(task, state=TaskState.QUEUED)
            assert await why_not_running(services, [queued]) is None  # e1 may take it
            reason = "task type 'echo' requires custody level 3, which none ... has"
            aside = Event("task.unplaceable", time.time(), task.id, data={"reason": reason})
            await services.store.log_event(aside)
            return await why_not_running(services, [queued])
        finally:
            await services.close()

    reason = asyncio.run(scenario())
    assert reason is not None
    assert "the scheduler set it aside: task type 'echo' requires custody level 3" in reason


def test_a_task_that_can_start_gives_no_reason(cli, echo_agent, migrated_database_url) -> None:
    async def scenario() -> list[str | None]:
        services = await Offline.open(Settings(database_url=migrated_database_url))
        try:
            tasks = await services.submissions.submit([TaskSpec(type="echo")] * 3)
            running = [dataclasses.replace(t, state=TaskState.RUNNING) for t in tasks]
            return [await why_not_running(services, some) for some in (tasks, running)]
        finally:
            await services.close()

    assert asyncio.run(scenario()) == [None, None]


def test_many_tasks_held_back_are_counted(cli, echo_agent, migrated_database_url) -> None:
    assert cli("agents", "pause", echo_agent).exit_code == 0
    spec = json.dumps({"name": "w", "tasks": [{"name": f"t{i}", "type": "echo"} for i in range(4)]})

    async def scenario() -> str | None:
        services = await Offline.open(Settings(database_url=migrated_database_url))
        try:
            from imperium.interfaces.specs import parse_workflow

            _, tasks = await services.submissions.submit_workflow(
                parse_workflow(json.loads(spec), time.time())
            )
            return await why_not_running(services, tasks)
        finally:
            await services.close()

    reason = asyncio.run(scenario())
    assert reason is not None
    assert reason.endswith("(4 tasks not started)")
