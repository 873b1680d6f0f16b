"""``Database``: the one connection pool every SQL area store shares, and its unit of work.

Each area store (scheduler, tasks, agents, learning, cycles, custody, proposals, teams,
keys) takes the ``Database`` and runs every statement through :meth:`Database.transaction`
or :meth:`Database.fetch`. On its own, a store method is one transaction. Inside
:meth:`Database.unit_of_work` the caller owns the transaction instead: every store method
called in the block, whatever its area, joins the same connection, and everything commits
together when the block ends, or nothing does when it raises.

The open transaction is kept in a context variable, so it follows the caller's task (and
tasks it creates inside the block share it: do not run statements concurrently in one unit
of work; a connection runs one at a time).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import AsyncIterator, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from imperium.adapters.storage.engine import create_engine


class Database:
    """One ``AsyncEngine``; build it with :meth:`connect`."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._current: contextvars.ContextVar[AsyncConnection | None] = contextvars.ContextVar(
            f"imperium_unit_of_work_{id(self)}", default=None
        )

    @classmethod
    async def connect(cls, url: str, *, sqlite_synchronous: str = "NORMAL") -> Database:
        """Connect to ``url`` (checking that the database answers); see ``engine``."""
        engine = create_engine(url, sqlite_synchronous=sqlite_synchronous)
        try:
            async with engine.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))
        except BaseException:
            await engine.dispose()
            raise
        return cls(engine)

    @property
    def engine(self) -> AsyncEngine:
        """The engine itself: for diagnostics (pool, driver) and tests, not for stores."""
        return self._engine

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._engine.dialect.name

    async def close(self) -> None:
        await self._engine.dispose()

    @property
    def in_unit_of_work(self) -> bool:
        """Whether the caller has a unit of work open (statements join its transaction)."""
        return self._current.get() is not None

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """The caller's unit of work when one is open; else a transaction of its own,
        committed when the block ends."""
        current = self._current.get()
        if current is not None:
            yield current
            return
        async with self._engine.begin() as conn:
            yield conn

    @contextlib.asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[None]:
        """Every store method called inside commits together at the end (or not at all,
        when the block raises). Nested, it joins the unit of work already open."""
        if self._current.get() is not None:
            yield
            return
        async with self._engine.begin() as conn:
            token = self._current.set(conn)
            try:
                yield
            finally:
                self._current.reset(token)

    @contextlib.asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads: the unit of work's when one is open (so they see what it
        wrote), else one of the pool's, given back when the block ends."""
        current = self._current.get()
        if current is not None:
            yield current
            return
        async with self._engine.connect() as conn:
            yield conn

    async def fetch(self, query: sa.Executable) -> Sequence[Any]:
        """Every row of one read."""
        async with self.reading() as conn:
            return (await conn.execute(query)).all()

    async def scalar(self, query: sa.Executable) -> Any:
        return (await self.fetch(query))[0][0]

    def insert(self, table: sa.Table) -> postgresql.Insert | sqlite.Insert:
        """An INSERT with the dialect's ON CONFLICT clauses (SQLite and PostgreSQL share
        their syntax and SQLAlchemy API)."""
        if self.dialect == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)

    def upsert(self, table: sa.Table, row: dict[str, Any], key: str) -> sa.Insert:
        """Insert ``row``, or replace every other column of the row with the same ``key``."""
        insert = self.insert(table).values(row)
        return insert.on_conflict_do_update(
            index_elements=[table.c[key]],
            set_={name: insert.excluded[name] for name in row if name != key},
        )


class SqlArea:
    """The base of every SQL area store: it holds the shared :class:`Database`."""

    def __init__(self, db: Database) -> None:
        self._db = db
