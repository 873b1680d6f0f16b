"""``imperium submit --wait`` in-process: it never waits silently for a task that cannot run
(no scheduler on the database, no agent offering what it needs), and waits cheaply."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field

import pytest

from imperium.adapters.storage.sql import SqlStore
from imperium.domain.models import Task
from imperium.domain.states import TaskState
from imperium.interfaces.cli import _waiting
from imperium.ports import LockInfo


async def _hold_lock(database_url: str) -> None:
    """What a running scheduler leaves in the database: a lock valid for a while."""
    store = await SqlStore.connect(database_url)
    try:
        assert await store.swap_lock(None, "scheduler-elsewhere", time.time() + 600)
    finally:
        await store.close()


def test_without_a_scheduler_it_says_so_at_once(cli) -> None:
    waiting = cli("submit", "echo", "--wait")
    assert waiting.exit_code == 1
    assert "no scheduler is running on this database" in waiting.output
    assert "imperium serve" in waiting.output
    assert "Traceback" not in waiting.output
    [stored] = json.loads(cli("tasks", "list", "--json").stdout)  # stored all the same
    assert stored["type"] == "echo"


def test_an_unknown_type_names_the_missing_capability(cli, migrated_database_url: str) -> None:
    asyncio.run(_hold_lock(migrated_database_url))
    assert cli("agents", "register", "e1", "--type", "echo", "-c", "echo").exit_code == 0
    waiting = cli("submit", "summarize", "--wait", "--json")
    assert waiting.exit_code == 1
    assert "no registered agent offers capability summarize" in waiting.output
    assert "registered agents offer: echo" in waiting.output
    assert waiting.stdout == ""  # nothing half-printed where JSON is expected


def test_a_task_asking_for_more_than_any_agent_offers_says_so(
    cli, migrated_database_url: str
) -> None:
    asyncio.run(_hold_lock(migrated_database_url))
    registered = cli("agents", "register", "e1", "--type", "echo", "-c", "echo", "-r", "cpu=4")
    assert registered.exit_code == 0, registered.output
    waiting = cli("submit", "echo", "-r", "cpu=8", "--wait")
    assert waiting.exit_code == 1
    assert "asks for cpu=8, more than any agent able to take it offers (e1 cpu=4)" in (
        waiting.output.replace("\n", " ")
    )


def test_without_wait_an_unknown_type_is_stored_with_a_warning(cli) -> None:
    before_any_agent = cli("submit", "echo", "--json")  # serve registers the built-ins
    assert before_any_agent.exit_code == 0, before_any_agent.output
    assert before_any_agent.stderr == ""
    assert cli("agents", "register", "e1", "--type", "echo", "-c", "echo").exit_code == 0
    submitted = cli("submit", "summarize", "--json")
    assert submitted.exit_code == 0, submitted.output
    assert json.loads(submitted.stdout)["state"] == "submitted"  # stdout stays JSON
    assert "warning" in submitted.stderr
    assert "no registered agent offers capability summarize" in submitted.stderr


def test_polling_backs_off_to_a_ceiling() -> None:
    intervals = [_waiting.FIRST_POLL]
    for _ in range(20):
        intervals.append(_waiting.next_poll(intervals[-1]))
    assert intervals == sorted(intervals)
    assert intervals[-1] == _waiting.LAST_POLL


@dataclass
class _Store:
    """Tasks that end after a few polls; the scheduler's lock while ``locked``."""

    polls_to_end: int
    locked: bool = True
    queries: list[int] = field(default_factory=list)

    async def read_lock(self) -> LockInfo | None:
        return LockInfo("s", time.time() + 60) if self.locked else None

    async def task_states(self, ids: list[str]) -> dict[str, TaskState]:
        self.queries.append(len(ids))
        done = len(self.queries) >= self.polls_to_end
        return {i: TaskState.SUCCEEDED if done else TaskState.RUNNING for i in ids}

    async def get_task(self, task_id: str) -> Task:
        return Task(id=task_id, type="echo", created_at=0.0, state=TaskState.SUCCEEDED)


def _tasks(count: int) -> list[Task]:
    return [Task(id=f"t{i}", type="echo", created_at=0.0) for i in range(count)]


@dataclass
class _Services:
    store: _Store


def test_waiting_reads_every_task_in_one_query_per_poll(monkeypatch) -> None:
    monkeypatch.setattr(_waiting, "FIRST_POLL", 0.001)
    services = _Services(_Store(polls_to_end=3))
    submitted = _tasks(400)
    tasks = asyncio.run(_waiting.wait_for(services, submitted, None))  # type: ignore[arg-type]
    assert [t.id for t in tasks] == [t.id for t in submitted]
    assert services.store.queries == [400, 400, 400]


def test_waiting_stops_when_the_scheduler_stops(monkeypatch) -> None:
    monkeypatch.setattr(_waiting, "FIRST_POLL", 0.001)
    monkeypatch.setattr(_waiting, "LOCK_CHECK_EVERY", 0.0)
    services = _Services(_Store(polls_to_end=10**6, locked=False))
    with pytest.raises(_waiting.CannotRunError, match="no scheduler is running"):
        asyncio.run(_waiting.wait_for(services, _tasks(1), None))  # type: ignore[arg-type]
