"""The group-commit write path: four statements compiled once per dialect and executed with
plain tuples through the driver's ``executemany``.

On SQLite the lock renewal and all four run in one call on aiosqlite's thread
(``write_locked``), not one round trip each. On PostgreSQL each part is one statement over
one JSON parameter (see ``_JsonStatement``).

This is the hot path of the engine (every task writes an insert, two updates, an execution
and three events). Going through SQLAlchemy's per-row parameter processing cost about half
of the write time; here values are prepared once, in column order: JSON is serialised with
orjson, floats are made floats (asyncpg refuses an int for DOUBLE PRECISION), timestamps
are already epoch seconds. Reads and rare writes stay on SQLAlchemy Core.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, NamedTuple

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

from imperium.adapters.storage.tables import (
    SCHEDULER_LOCK_NAME,
    agent_task_executions,
    learning_logs,
    scheduler_lock,
    tasks,
)
from imperium.domain.errors import LockLostError
from imperium.domain.models import Event, Execution, Task
from imperium.domain.states import Outcome
from imperium.ports import TaskSnapshot, WriteBatch

MUTABLE = (
    "state",
    "attempts",
    "max_attempts",
    "restarts",
    "lease_token",
    "agent_id",
    "lease_expires_at",
    "not_before",
    "started_at",
    "finished_at",
    "result",
    "error_kind",
    "error_message",
    "score",
    "updated_at",
)
IMMUTABLE = (
    "id",
    "type",
    "payload",
    "capabilities",
    "priority",
    "complexity",
    "deadline",
    "timeout",
    "resources",
    "pinned_agent",
    "depends_on",
    "workflow_id",
    "name",
    "estimated_duration",
    "dependents",
    "created_at",
)
EXECUTION = (
    "task_id",
    "attempt",
    "agent_id",
    "agents_used",
    "task_type",
    "complexity",
    "started_at",
    "finished_at",
    "duration_seconds",
    "success",
    "outcome",
    "error_kind",
    "error_message",
    "resources",
    "tokens",
    "cost",
    "lease_token",
    "created_at",
)
EVENT = ("event_type", "created_at", "task_id", "agent_id", "event_data")


_EMPTY: dict[type, str] = {dict: "{}", list: "[]"}


def _json(value: Any) -> str | None:
    if value is None:
        return None
    if not value and type(value) in _EMPTY:
        return _EMPTY[type(value)]
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def _float(value: float | None) -> float | None:
    return None if value is None else float(value)


# JSON of values that recur across tasks (capability sets, the agent of an execution),
# kept while few: encoding them again for every row was a visible share of the write path
_RECURRING: dict[object, str] = {}
_RECURRING_MAX = 4096


def _recurring(key: object, value: Any) -> str:
    text = _RECURRING.get(key)
    if text is None:
        if len(_RECURRING) >= _RECURRING_MAX:
            _RECURRING.clear()
        text = _RECURRING[key] = orjson.dumps(value).decode()
    return text


def _mutable(s: TaskSnapshot) -> tuple[Any, ...]:
    result = s.result
    return (
        s.state.value,
        s.attempts,
        s.max_attempts,
        s.restarts,
        s.lease_token,
        s.agent_id,
        None if s.lease_expires_at is None else float(s.lease_expires_at),
        None if s.not_before is None else float(s.not_before),
        None if s.started_at is None else float(s.started_at),
        None if s.finished_at is None else float(s.finished_at),
        None if result is None else _json(result),
        s.error_kind,
        s.error_message,
        float(s.score),
        float(s.updated_at),
    )


def _insert(task: Task, snap: TaskSnapshot) -> tuple[Any, ...]:
    return (
        task.id,
        task.type,
        _json(task.payload),
        _recurring(task.capabilities, sorted(task.capabilities)),
        task.priority.value,
        float(task.complexity),
        _float(task.deadline),
        _float(task.timeout),
        _json(task.resources),
        task.pinned_agent,
        _json(list(task.depends_on)) if task.depends_on else "[]",
        task.workflow_id,
        task.name,
        _float(task.estimated_duration),
        task.dependents,
        float(task.created_at),
        *_mutable(snap),
    )


def _update(snap: TaskSnapshot) -> tuple[Any, ...]:
    return (*_mutable(snap), snap.id)


_FINISHED_AT = MUTABLE.index("finished_at")
# A task that has not ended is updated without ``finished_at`` in the SET list, so that
# SQLite leaves the partial index of unfinished rows alone (it only maintains an index whose
# columns, or predicate's, the statement sets); see tables/core.py.
OPEN = MUTABLE[:_FINISHED_AT] + MUTABLE[_FINISHED_AT + 1 :]


def _update_open(snap: TaskSnapshot) -> tuple[Any, ...]:
    row = _mutable(snap)
    return (*row[:_FINISHED_AT], *row[_FINISHED_AT + 1 :], snap.id)


def _execution(e: Execution) -> tuple[Any, ...]:
    agent = e.agent_id
    return (
        e.task_id,
        e.attempt,
        agent,
        "[]" if agent is None else _recurring(("agent", agent), [agent]),
        e.task_type,
        float(e.complexity),
        float(e.started_at),
        float(e.finished_at),
        float(e.duration),
        e.outcome is Outcome.SUCCEEDED,
        e.outcome.value,
        e.error_kind,
        e.error_message,
        _json(e.resources),
        e.tokens,
        _float(e.cost),
        e.lease_token,
        float(e.finished_at),
    )


def _event(e: Event) -> tuple[Any, ...]:
    return (e.event_type, float(e.created_at), e.task_id, e.agent_id, _json(e.data))


def _placeholders(dialect: Dialect, count: int) -> list[str]:
    style = dialect.paramstyle
    if style == "qmark":
        return ["?"] * count
    if style == "numeric_dollar":
        return [f"${i}" for i in range(1, count + 1)]
    if style in ("format", "pyformat"):
        return ["%s"] * count
    raise RuntimeError(f"unsupported DB-API paramstyle {style!r}")


class _Statement:
    """Driver-level SQL with positional parameters in exactly the order the rows give."""

    def __init__(self, sql: str) -> None:
        self.sql = sql

    @classmethod
    def insert(cls, table: sa.Table, names: Sequence[str], dialect: Dialect) -> _Statement:
        quote = dialect.identifier_preparer.quote
        marks = _placeholders(dialect, len(names))
        columns = ", ".join(quote(n) for n in names)
        return cls(f"INSERT INTO {quote(table.name)} ({columns}) VALUES ({', '.join(marks)})")

    @classmethod
    def update_by_id(
        cls, table: sa.Table, names: Sequence[str], dialect: Dialect, only: str = ""
    ) -> _Statement:
        """``only``: a further condition on the row (SQL, the table unqualified)."""
        quote = dialect.identifier_preparer.quote
        marks = _placeholders(dialect, len(names) + 1)
        sets = ", ".join(f"{quote(n)} = {m}" for n, m in zip(names, marks, strict=False))
        where = f"{quote('id')} = {marks[-1]}" + (f" AND {only}" if only else "")
        return cls(f"UPDATE {quote(table.name)} SET {sets} WHERE {where}")

    async def run(self, conn: AsyncConnection, rows: list[tuple[Any, ...]]) -> int:
        """Runs the statement over ``rows``; returns how many rows it changed (-1: unknown)."""
        return int((await conn.exec_driver_sql(self.sql, rows)).rowcount)


class _JsonStatement(_Statement):
    """PostgreSQL: the whole batch as one statement over one parameter, the rows as a JSON
    array of arrays (in column order) that the server takes apart and casts
    (``jsonb_array_elements``), so the server parses, plans and runs one statement instead
    of one per row. One text parameter encoded by orjson costs the event loop far less than
    an array per column encoded by asyncpg (which tests every element for being an
    iterable). The numbers round-trip exactly: orjson writes the shortest text that reads
    back as the same double, and jsonb keeps it digit for digit."""

    @staticmethod
    def _rows(table: sa.Table, names: Sequence[str], dialect: Dialect) -> str:
        casts = ", ".join(
            f"(r ->> {i})::{table.c[n].type.compile(dialect=dialect)}" for i, n in enumerate(names)
        )
        return f"(SELECT {casts} FROM jsonb_array_elements($1::text::jsonb) AS r)"

    @classmethod
    def insert(cls, table: sa.Table, names: Sequence[str], dialect: Dialect) -> _Statement:
        quote = dialect.identifier_preparer.quote
        columns = ", ".join(quote(n) for n in names)
        source = cls._rows(table, names, dialect)
        return cls(f"INSERT INTO {quote(table.name)} ({columns}) SELECT * FROM {source} AS v")

    @classmethod
    def update_by_id(
        cls, table: sa.Table, names: Sequence[str], dialect: Dialect, only: str = ""
    ) -> _Statement:
        quote = dialect.identifier_preparer.quote
        every = (*names, "id")
        sets = ", ".join(f"{quote(n)} = v.{quote(n)}" for n in names)
        source = cls._rows(table, every, dialect)
        columns = ", ".join(quote(n) for n in every)
        return cls(
            f"UPDATE {quote(table.name)} AS t SET {sets} FROM {source} AS v({columns}) "
            f"WHERE t.{quote('id')} = v.{quote('id')}" + (f" AND t.{only}" if only else "")
        )

    async def run(self, conn: AsyncConnection, rows: list[tuple[Any, ...]]) -> int:
        result = await conn.exec_driver_sql(self.sql, (orjson.dumps(rows).decode(),))
        return int(result.rowcount)


Rows = list[tuple[Any, ...]]


class _Part(NamedTuple):
    """One statement of the group commit and the rows of a batch it writes; ``again`` (with
    its rows) is run over the same changes when ``statement`` changed fewer rows than it
    was given."""

    statement: _Statement
    rows_of: Callable[[WriteBatch], Rows]
    again: _Statement | None = None
    again_rows_of: Callable[[WriteBatch], Rows] = lambda _batch: []


class _Work(NamedTuple):
    statement: _Statement
    rows: Rows
    again: tuple[_Statement, Callable[[], Rows]] | None


class BatchWriter:
    def __init__(self, dialect: Dialect) -> None:
        self._dialect = dialect
        self._one_hop = dialect.name == "sqlite"
        kind = _JsonStatement if dialect.name == "postgresql" else _Statement
        marks = _placeholders(dialect, 3)
        quote = dialect.identifier_preparer.quote
        self._lock_sql = (
            f"UPDATE {quote(scheduler_lock.name)} SET {quote('expires_at')} = {marks[0]} "
            f"WHERE {quote('name')} = {marks[1]} AND {quote('owner')} = {marks[2]}"
        )
        update = kind.update_by_id(tasks, MUTABLE, dialect)
        # A task retried after it ended is open again in memory while its row still holds
        # the old finished_at: the open update skips such a row (``only``), and the whole
        # part is then written again with the full update, which clears it.
        open_update = kind.update_by_id(
            tasks, OPEN, dialect, only=f"{quote('finished_at')} IS NULL"
        )
        self._parts: list[_Part] = [
            _Part(
                kind.insert(tasks, IMMUTABLE + MUTABLE, dialect),
                lambda b: [_insert(t, s) for t, s in b.inserts],
            ),
            _Part(
                open_update,
                lambda b: [_update_open(s) for s in b.updates if s.finished_at is None],
                update,
                lambda b: [_update(s) for s in b.updates if s.finished_at is None],
            ),
            _Part(
                update,
                lambda b: [_update(s) for s in b.updates if s.finished_at is not None],
            ),
            _Part(
                kind.insert(agent_task_executions, EXECUTION, dialect),
                lambda b: [_execution(e) for e in b.executions],
            ),
            _Part(
                kind.insert(learning_logs, EVENT, dialect),
                lambda b: [_event(e) for e in b.events],
            ),
        ]

    def _statements(self, batch: WriteBatch) -> list[_Work]:
        work = []
        for part in self._parts:
            rows = part.rows_of(batch)
            if rows:
                again = (
                    None if part.again is None else (part.again, partial(part.again_rows_of, batch))
                )
                work.append(_Work(part.statement, rows, again))
        return work

    async def write(self, conn: AsyncConnection, batch: WriteBatch) -> None:
        """Every part of ``batch`` in ``conn``'s transaction."""
        await self._write(conn, batch, None)

    async def write_locked(
        self, conn: AsyncConnection, batch: WriteBatch, owner: str, lock_expires_at: float
    ) -> None:
        """Extend the scheduler lock held by ``owner`` to ``lock_expires_at`` and write every
        part of ``batch``, in ``conn``'s transaction; :class:`LockLostError` (nothing more
        written) when ``owner`` no longer holds the lock."""
        await self._write(conn, batch, (float(lock_expires_at), SCHEDULER_LOCK_NAME, owner))

    async def _write(
        self, conn: AsyncConnection, batch: WriteBatch, lock: tuple[float, str, str] | None
    ) -> None:
        work = self._statements(batch)
        driver = await _sqlite_driver(conn) if self._one_hop else None
        if driver is not None:
            try:
                held = await driver._execute(_write_all, driver._conn, self._lock_sql, lock, work)
            except self._dialect.loaded_dbapi.Error as exc:
                raise _wrapped(exc, self._dialect) from exc
        else:
            held = lock is None or (await conn.exec_driver_sql(self._lock_sql, lock)).rowcount == 1
            if held:
                for item in work:
                    changed = await item.statement.run(conn, item.rows)
                    if item.again is not None and changed != len(item.rows):
                        statement, rows_of = item.again
                        await statement.run(conn, rows_of())
        if not held:
            assert lock is not None
            raise LockLostError(
                f"scheduler '{lock[2]}' no longer holds the database lock; it must stop writing"
            )


# -- SQLite: the whole group commit in one call on aiosqlite's thread ----------------------
#
# Each statement awaited through SQLAlchemy is a round trip to the thread aiosqlite runs the
# connection on (queue, wake the thread, wake the event loop): five of them cost about 3 ms
# of latency per commit however few rows it held. Here the lock renewal and every
# executemany run in one function on that thread, on the same sqlite3 connection and so in
# the transaction SQLAlchemy opened; the commit stays SQLAlchemy's.


async def _sqlite_driver(conn: AsyncConnection) -> Any:
    """The aiosqlite connection under ``conn`` when it offers the (private) call that runs a
    function on its thread; None otherwise (then each statement is awaited on its own)."""
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    if not hasattr(driver, "_execute") or getattr(driver, "_connection", None) is None:
        return None
    return driver


def _write_all(
    db: Any, lock_sql: str, lock: tuple[float, str, str] | None, work: list[_Work]
) -> bool:
    """Runs on aiosqlite's thread. False (nothing written) when the lock is not held."""
    if lock is not None and db.execute(lock_sql, lock).rowcount != 1:
        return False
    for item in work:
        changed = db.executemany(item.statement.sql, item.rows).rowcount
        if item.again is not None and changed != len(item.rows):
            statement, rows_of = item.again
            db.executemany(statement.sql, rows_of())
    return True


def _wrapped(exc: Exception, dialect: Dialect) -> BaseException:
    """The driver's error as SQLAlchemy raises it for a statement (``IntegrityError``, …)."""
    return sa.exc.DBAPIError.instance(
        None, None, exc, dialect.loaded_dbapi.Error, dialect=dialect, ismulti=True
    )
