"""What ``/api/database/health`` reports: a look at the database an ``AsyncEngine`` uses.

Every figure is read from the database or the driver at the time of the call: dialect and
server version, one round trip's latency, the schema revision against the migrations this
code ships, exact row counts of the main tables, the SQLite journal mode and file sizes or
the PostgreSQL database size, and the connection pool. Any failure to reach the database
propagates to the caller, which reports it. :class:`ReportCache` keeps a report for a few
seconds, so callers in a loop cannot keep the database counting.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from imperium.adapters.storage.migrate import code_heads, recorded_heads
from imperium.adapters.storage.tables import (
    agent_metrics,
    agent_task_executions,
    learning_logs,
    tasks,
)

COUNTED_TABLES = (tasks, agent_task_executions, learning_logs, agent_metrics)
REPORT_SECONDS = 10.0  # how long ReportCache serves a report
_SYNCHRONOUS = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}


@dataclass(frozen=True, slots=True)
class DatabaseReport:
    dialect: str
    driver: str
    server_version: str | None
    database: str | None  # the database name, or the SQLite file path
    latency_ms: float  # one ``SELECT 1``, connection checkout included
    revision: tuple[str, ...]  # the schema revision(s) stored in the database
    head: tuple[str, ...]  # the latest revision(s) of the migrations in this code
    rows: dict[str, int]
    pool: dict[str, int] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)  # dialect-specific
    taken_at: float = field(default_factory=time.time)  # when the look ended (epoch seconds)

    @property
    def schema_current(self) -> bool:
        return set(self.revision) == set(self.head)


async def inspect_database(engine: AsyncEngine) -> DatabaseReport:
    started = time.perf_counter()
    async with engine.connect() as conn:
        await conn.execute(sa.text("SELECT 1"))
        latency_ms = (time.perf_counter() - started) * 1000
        revision = await conn.run_sync(recorded_heads)
        rows = await _row_counts(conn)
        if conn.dialect.name == "sqlite":
            details = await _sqlite_details(conn, engine.url.database)
        else:
            details = await _postgresql_details(conn)
        version = conn.dialect.server_version_info
    return DatabaseReport(
        dialect=engine.dialect.name,
        driver=engine.dialect.driver,
        server_version=".".join(str(part) for part in version) if version else None,
        database=engine.url.database,
        latency_ms=round(latency_ms, 3),
        revision=revision,
        head=code_heads(),
        rows=rows,
        pool=_pool_stats(engine.pool),
        details=details,
    )


class ReportCache:
    """The report of ``engine``, reused for ``seconds`` after it is taken; callers that come
    while one is being taken wait for that one. The counts are full scans, and a driver
    may finish a query its caller gave up on (aiosqlite does), so this bounds the work
    to one look at a time however many requests ask or time out."""

    def __init__(
        self,
        engine: AsyncEngine,
        seconds: float = REPORT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self._seconds = seconds
        self._clock = clock
        self._look: asyncio.Task[DatabaseReport] | None = None
        self._expires = 0.0  # monotonic

    async def get(self) -> DatabaseReport:
        look = self._look
        if look is None or (
            look.done() and (look.cancelled() or look.exception() or self._clock() >= self._expires)
        ):  # a failed look is not kept: the next caller tries again
            look = self._look = asyncio.create_task(self._take())
        return await asyncio.shield(look)  # a caller that gives up leaves the look running

    async def _take(self) -> DatabaseReport:
        report = await inspect_database(self._engine)
        self._expires = self._clock() + self._seconds
        return report


async def _row_counts(conn: AsyncConnection) -> dict[str, int]:
    """Exact counts in one round trip (a full count: a diagnostic, not a liveness probe)."""
    counts = [
        sa.select(sa.func.count()).select_from(table).scalar_subquery().label(table.name)
        for table in COUNTED_TABLES
    ]
    row = (await conn.execute(sa.select(*counts))).one()
    return {table.name: int(row[i]) for i, table in enumerate(COUNTED_TABLES)}


async def _sqlite_details(conn: AsyncConnection, path: str | None) -> dict[str, Any]:
    journal_mode = (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar()
    synchronous = (await conn.exec_driver_sql("PRAGMA synchronous")).scalar()
    return {
        "journal_mode": str(journal_mode).lower(),
        "synchronous": _SYNCHRONOUS.get(int(synchronous or 0), str(synchronous)),
        "file_size_bytes": _size(path),
        "wal_size_bytes": _size(f"{path}-wal") if path else None,
    }


async def _postgresql_details(conn: AsyncConnection) -> dict[str, Any]:
    size = sa.text("SELECT pg_database_size(current_database())")
    return {"database_size_bytes": int((await conn.execute(size)).scalar_one())}


def _size(path: str | None) -> int | None:
    try:
        return os.path.getsize(path) if path else None
    except OSError:
        return None


def _pool_stats(pool: sa.Pool) -> dict[str, int]:
    """Connections of a queue pool (what both dialects use here); empty for other pools."""
    if not isinstance(pool, sa.QueuePool):
        return {}
    return {
        "size": pool.size(),
        "checked_out": pool.checkedout(),
        "checked_in": pool.checkedin(),
        "overflow": max(0, pool.overflow()),  # negative while the pool is not full
    }
