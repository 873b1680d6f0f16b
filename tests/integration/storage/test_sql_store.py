"""What only the SQL store can show: several connections at once, what lands in the
columns, and how the database's own constraints surface."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from imperium.adapters.storage.migrate import upgrade_database
from imperium.adapters.storage.sql import SqlStore
from imperium.adapters.storage.tables import agent_task_executions, tasks
from imperium.domain.errors import ConflictError, LockLostError
from imperium.ports import WriteBatch
from tests.integration.storage.storage_factories import T0, inserting, make_execution, make_task

CONTENDERS = 6


async def _stores(url: str, n: int) -> list[SqlStore]:
    return [await SqlStore.connect(url) for _ in range(n)]


async def test_only_one_of_concurrent_schedulers_creates_the_lock(
    sql_store: SqlStore, migrated_database_url: str
) -> None:
    stores = await _stores(migrated_database_url, CONTENDERS)
    try:
        won = await asyncio.gather(
            *(s.swap_lock(None, f"scheduler-{i}", T0 + 30) for i, s in enumerate(stores))
        )
    finally:
        await asyncio.gather(*(s.close() for s in stores))

    assert sorted(won) == [False] * (CONTENDERS - 1) + [True]
    lock = await sql_store.read_lock()
    assert lock is not None
    assert lock.owner == f"scheduler-{won.index(True)}"


async def test_only_one_of_concurrent_schedulers_takes_over_an_expired_lock(
    sql_store: SqlStore, migrated_database_url: str
) -> None:
    assert await sql_store.swap_lock(None, "dead", T0)
    stores = await _stores(migrated_database_url, CONTENDERS)
    try:
        won = await asyncio.gather(
            *(s.swap_lock("dead", f"scheduler-{i}", T0 + 30) for i, s in enumerate(stores))
        )
    finally:
        await asyncio.gather(*(s.close() for s in stores))

    assert won.count(True) == 1
    lock = await sql_store.read_lock()
    assert lock is not None
    assert lock.owner == f"scheduler-{won.index(True)}"
    with pytest.raises(LockLostError):
        await sql_store.apply(WriteBatch(), "dead", T0 + 60)


async def test_timestamps_are_stored_as_epoch_seconds(sql_store: SqlStore) -> None:
    task = make_task(created_at=0.5)
    await sql_store.insert_submitted([task], [])

    async with sql_store.engine.connect() as conn:
        stored = (await conn.execute(sa.select(tasks.c.created_at))).scalar_one()

    assert stored == 0.5


async def test_duplicate_attempt_is_a_conflict_caused_by_the_unique_constraint(
    sql_store: SqlStore,
) -> None:
    """Decision: the database's IntegrityError surfaces as ConflictError (the core knows no
    SQLAlchemy), with the IntegrityError as its cause."""
    assert await sql_store.swap_lock(None, "s", T0 + 30)
    task = make_task()
    await sql_store.apply(inserting(task), "s", T0 + 30)
    await sql_store.apply(WriteBatch(executions=[make_execution(task.id, 1)]), "s", T0 + 30)

    with pytest.raises(ConflictError) as caught:
        await sql_store.apply(WriteBatch(executions=[make_execution(task.id, 1)]), "s", T0 + 30)

    assert isinstance(caught.value.__cause__, IntegrityError)
    async with sql_store.engine.connect() as conn:
        count = sa.select(sa.func.count()).select_from(agent_task_executions)
        assert (await conn.execute(count)).scalar_one() == 1


async def test_executions_store_the_agents_used_and_success(sql_store: SqlStore) -> None:
    assert await sql_store.swap_lock(None, "s", T0 + 30)
    batch = WriteBatch(executions=[make_execution("t", 1), make_execution("t", 2, agent_id=None)])
    await sql_store.apply(batch, "s", T0 + 30)

    ex = agent_task_executions
    query = sa.select(ex.c.agents_used, ex.c.success, ex.c.duration_seconds).order_by(ex.c.attempt)
    async with sql_store.engine.connect() as conn:
        rows = (await conn.execute(query)).all()

    assert [tuple(r) for r in rows] == [(["agent-a"], False, 2.5), ([], False, 2.5)]


async def test_sqlite_reads_of_active_tasks_use_the_partial_index(
    make_database_url: Callable[[str], str],
) -> None:
    """The active-state predicate is literal SQL so the planner can match it to the partial
    index; a bound parameter there would silently turn these reads into table scans."""
    url = make_database_url("sqlite")
    await upgrade_database(url)
    store = await SqlStore.connect(url)
    statements: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        statements.append((statement, params))

    sa.event.listen(store.engine.sync_engine, "before_cursor_execute", capture)
    try:
        await store.fetch_submitted(10)
        await store.fetch_cancel_requests()
        await store.load_active_tasks()
        sa.event.remove(store.engine.sync_engine, "before_cursor_execute", capture)
        async with store.engine.connect() as conn:
            plans = [
                " ".join(
                    row[-1] for row in await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {s}", p)
                )
                for s, p in statements
            ]
    finally:
        await store.close()

    assert len(plans) == 3
    for plan in plans:
        assert "USING INDEX ix_tasks_" in plan, plan


async def test_absent_json_values_are_sql_null(sql_store: SqlStore) -> None:
    await sql_store.insert_submitted([make_task(payload=None, result=None)], [])

    query = sa.select(sa.func.count()).where(tasks.c.payload.is_(None), tasks.c.result.is_(None))
    async with sql_store.engine.connect() as conn:
        assert (await conn.execute(query)).scalar_one() == 1
