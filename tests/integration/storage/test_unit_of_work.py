"""The caller owns the transaction: inside ``unit_of_work()`` the writes of several area
stores commit together, or none does; the scheduler's group commit writes team rows with
their member tasks, all or nothing. On every store (memory, SQLite, PostgreSQL)."""

from __future__ import annotations

import pytest

from imperium.domain.errors import ConflictError
from imperium.domain.models import Event, Task
from imperium.domain.teams import TeamRun
from imperium.ports import Store, TaskFilter, TaskSnapshot, WriteBatch


def _task(task_id: str) -> Task:
    return Task(id=task_id, type="review", created_at=1.0, workflow_id="team-1")


def _team(*task_ids: str) -> TeamRun:
    return TeamRun("team-1", "review", ("a", "b"), task_ids, 2, "user", 1.0)


class CrashError(Exception):
    """The process stopping in the middle of a unit of work."""


async def _nothing_stored(store: Store) -> None:
    assert await store.list_tasks(TaskFilter()) == []
    assert await store.get_team("team-1") is None


async def test_a_unit_of_work_commits_every_area_together(store: Store) -> None:
    async with store.unit_of_work():
        event = Event("task.submitted", 1.0, "t1", None, None)
        await store.insert_submitted([_task("t1"), _task("t2")], [event])
        await store.insert_team(_team("t1", "t2"))
        assert await store.get_task("t1") is not None  # reads see the unit's writes
    team = await store.get_team("team-1")
    assert team is not None
    assert team.task_ids == ("t1", "t2")
    assert [e.event_type for e in await store.events_for("t1")] == ["task.submitted"]


async def _submit_team(store: Store, *task_ids: str, crash: bool = False) -> None:
    async with store.unit_of_work():
        await store.insert_submitted([_task(i) for i in task_ids], [])
        await store.insert_team(_team(*task_ids))
        if crash:
            raise CrashError


async def test_a_unit_of_work_that_raises_stores_nothing(store: Store) -> None:
    with pytest.raises(CrashError):
        await _submit_team(store, "t1", "t2", crash=True)
    await _nothing_stored(store)


async def test_a_refused_write_undoes_the_unit_s_earlier_writes(store: Store) -> None:
    await store.insert_team(_team("x", "y"))
    with pytest.raises(ConflictError, match="team-1"):
        await _submit_team(store, "t1")
    assert await store.get_task("t1") is None
    team = await store.get_team("team-1")
    assert team is not None
    assert team.task_ids == ("x", "y")


async def _nested(store: Store) -> None:
    async with store.unit_of_work():
        await _submit_team(store, "t1")  # a unit of work of its own, joining this one
        raise CrashError


async def test_nested_units_of_work_commit_with_the_outer_one(store: Store) -> None:
    with pytest.raises(CrashError):
        await _nested(store)
    await _nothing_stored(store)


async def test_the_group_commit_writes_a_team_with_its_members(store: Store) -> None:
    assert await store.swap_lock(None, "me", 10.0)
    members = [_task("t1"), _task("t2")]
    inserts = [(t, TaskSnapshot.of(t)) for t in members]
    await store.apply(WriteBatch(inserts=inserts, teams=[_team("t1", "t2")]), "me", 20.0)
    team = await store.get_team("team-1")
    assert team is not None
    assert team.task_ids == ("t1", "t2")
    assert set(await store.task_states(["t1", "t2"])) == {"t1", "t2"}


async def test_a_group_commit_with_a_stored_team_id_writes_nothing(store: Store) -> None:
    assert await store.swap_lock(None, "me", 10.0)
    await store.insert_team(_team("x", "y"))
    task = _task("t1")
    batch = WriteBatch(inserts=[(task, TaskSnapshot.of(task))], teams=[_team("t1")])
    with pytest.raises(ConflictError, match="team id"):
        await store.apply(batch, "me", 20.0)
    assert await store.get_task("t1") is None
