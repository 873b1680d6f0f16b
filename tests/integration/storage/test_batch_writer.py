"""``BatchWriter``, the group commit's write path: on SQLite the lock renewal and every part
of a batch run in one call on aiosqlite's thread (one round trip instead of one per
statement); on both databases the lock check and the error translation hold."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiosqlite
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from imperium.adapters.storage._batch import BatchWriter
from imperium.adapters.storage.engine import create_engine
from imperium.adapters.storage.tables import (
    SCHEDULER_LOCK_NAME,
    agent_task_executions,
    learning_logs,
    scheduler_lock,
    tasks,
)
from imperium.domain.errors import LockLostError
from imperium.domain.states import TaskState
from imperium.ports import TaskSnapshot, WriteBatch
from tests.integration.storage.storage_factories import (
    T0,
    make_event,
    make_execution,
    make_task,
)

OWNER = "scheduler-1"

KINDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


async def _locked_engine(url: str) -> AsyncEngine:
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(
            sa.insert(scheduler_lock).values(name=SCHEDULER_LOCK_NAME, owner=OWNER, expires_at=T0)
        )
    return engine


@pytest.fixture(params=KINDS)
async def engine(
    request: pytest.FixtureRequest, make_migrated_database_url: Callable[[str], str]
) -> AsyncIterator[AsyncEngine]:
    engine = await _locked_engine(make_migrated_database_url(request.param))
    yield engine
    await engine.dispose()


@pytest.fixture
async def sqlite_engine(
    make_migrated_database_url: Callable[[str], str],
) -> AsyncIterator[AsyncEngine]:
    engine = await _locked_engine(make_migrated_database_url("sqlite"))
    yield engine
    await engine.dispose()


def _every_part() -> tuple[WriteBatch, str]:
    """A batch with a row for each of the four statements, and the id of its updated task."""
    new, old = make_task(), make_task()
    batch = WriteBatch(
        inserts=[(new, TaskSnapshot.of(new))],
        updates=[TaskSnapshot.of(old)],
        executions=[make_execution(task_id=new.id)],
        events=[make_event(task_id=new.id)],
    )
    return batch, old.id


async def _count(engine: AsyncEngine, table: sa.Table) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(sa.select(sa.func.count()).select_from(table))).scalar_one()


async def test_a_batch_and_the_lock_renewal_are_one_call_on_the_sqlite_thread(
    sqlite_engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = sqlite_engine
    calls: list[str] = []
    original: Any = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(getattr(fn, "__name__", repr(fn)))
        return await original(self, fn, *args, **kwargs)

    batch, _ = _every_part()
    writer = BatchWriter(engine.dialect)
    async with engine.begin() as conn:
        await conn.get_raw_connection()  # the connection is checked out before counting
        monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
        await writer.write_locked(conn, batch, OWNER, T0 + 30)
        assert calls == ["_write_all"]
    for table in (tasks, agent_task_executions, learning_logs):
        assert await _count(engine, table) == 1


async def test_the_lock_is_renewed_with_the_batch(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await BatchWriter(engine.dialect).write_locked(conn, WriteBatch(), OWNER, T0 + 30)
    async with engine.connect() as conn:
        expires = (await conn.execute(sa.select(scheduler_lock.c.expires_at))).scalar()
    assert expires == pytest.approx(T0 + 30)


async def test_a_lock_held_by_another_writes_nothing(engine: AsyncEngine) -> None:
    batch, _ = _every_part()
    with pytest.raises(LockLostError, match="someone-else"):
        async with engine.begin() as conn:
            await BatchWriter(engine.dialect).write_locked(conn, batch, "someone-else", T0 + 30)
    for table in (tasks, agent_task_executions, learning_logs):
        assert await _count(engine, table) == 0


async def test_a_duplicate_row_is_sqlalchemys_integrity_error(engine: AsyncEngine) -> None:
    """The store turns ``IntegrityError`` into ``ConflictError``: the one-call path raises
    what a statement executed through SQLAlchemy raises."""
    batch, _ = _every_part()
    writer = BatchWriter(engine.dialect)
    async with engine.begin() as conn:
        await writer.write(conn, batch)
    with pytest.raises(IntegrityError):
        async with engine.begin() as conn:
            await writer.write_locked(conn, batch, OWNER, T0 + 60)
    async with engine.connect() as conn:
        expires = (await conn.execute(sa.select(scheduler_lock.c.expires_at))).scalar()
    assert expires == pytest.approx(T0)  # the renewal rolled back with the batch


async def test_values_round_trip_exactly(engine: AsyncEngine) -> None:
    """PostgreSQL receives the batch as JSON text: doubles, text with quotes and newlines,
    JSON values and booleans come back exactly as they were."""
    task = make_task(
        created_at=T0 + 1 / 3,
        complexity=0.1 + 0.2,
        payload={"text": 'a "quoted"\nline é ✓', "n": [1, 2.5, None, True]},
        error_message='it said "no"\tand\\left',
    )
    batch = WriteBatch(
        inserts=[(task, TaskSnapshot.of(task))],
        executions=[make_execution(task_id=task.id, cost=1e-300)],
    )
    async with engine.begin() as conn:
        await BatchWriter(engine.dialect).write_locked(conn, batch, OWNER, T0 + 30)
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(tasks).where(tasks.c.id == task.id))).one()
        execution = (await conn.execute(sa.select(agent_task_executions))).one()
    assert row.created_at == T0 + 1 / 3
    assert row.complexity == 0.1 + 0.2
    assert row.payload == task.payload
    assert row.error_message == task.error_message
    assert row.score == task.score
    assert execution.cost == 1e-300
    assert execution.success is (execution.outcome == "succeeded")


async def test_a_task_retried_after_it_ended_is_unfinished_again(engine: AsyncEngine) -> None:
    """An open task's update leaves finished_at out (so SQLite leaves the index of unfinished
    rows alone); a row that still holds one, a task retried after it ended, is written
    again in full, so that the scheduler finds it at its next start."""
    ended = make_task(state=TaskState.DEAD, finished_at=T0 + 5)
    writer = BatchWriter(engine.dialect)
    async with engine.begin() as conn:
        await writer.write_locked(
            conn, WriteBatch(inserts=[(ended, TaskSnapshot.of(ended))]), OWNER, T0 + 30
        )
    still_open = make_task(state=TaskState.QUEUED, finished_at=None)
    retried = dataclasses.replace(ended, state=TaskState.QUEUED, finished_at=None, attempts=0)
    running = dataclasses.replace(still_open, state=TaskState.RUNNING, attempts=1)
    async with engine.begin() as conn:
        await writer.write(conn, WriteBatch(inserts=[(still_open, TaskSnapshot.of(still_open))]))
        await writer.write(
            conn, WriteBatch(updates=[TaskSnapshot.of(retried), TaskSnapshot.of(running)])
        )
    async with engine.connect() as conn:
        rows = {
            row.id: row
            for row in await conn.execute(
                sa.select(tasks.c.id, tasks.c.state, tasks.c.finished_at, tasks.c.attempts)
            )
        }
    assert (rows[ended.id].state, rows[ended.id].finished_at) == ("queued", None)
    assert (rows[still_open.id].state, rows[still_open.id].attempts) == ("running", 1)
    assert rows[still_open.id].finished_at is None
