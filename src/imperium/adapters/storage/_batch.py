"""The group-commit write path: four statements compiled once per dialect and executed with
plain tuples through the driver's ``executemany``.

On PostgreSQL each part is one statement over arrays (see ``_ArrayStatement``).

This is the hot path of the engine (every task writes an insert, two updates, an execution
and three events). Going through SQLAlchemy's per-row parameter processing cost about half
of the write time; here values are prepared once, in column order: JSON is serialised with
orjson, floats are made floats (asyncpg refuses an int for DOUBLE PRECISION), timestamps
are already epoch seconds. Reads and rare writes stay on SQLAlchemy Core.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

from imperium.adapters.storage.tables import agent_task_executions, learning_logs, tasks
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
    def update_by_id(cls, table: sa.Table, names: Sequence[str], dialect: Dialect) -> _Statement:
        quote = dialect.identifier_preparer.quote
        marks = _placeholders(dialect, len(names) + 1)
        sets = ", ".join(f"{quote(n)} = {m}" for n, m in zip(names, marks, strict=False))
        return cls(f"UPDATE {quote(table.name)} SET {sets} WHERE {quote('id')} = {marks[-1]}")

    async def run(self, conn: AsyncConnection, rows: list[tuple[Any, ...]]) -> None:
        await conn.exec_driver_sql(self.sql, rows)


class _ArrayStatement(_Statement):
    """PostgreSQL: the whole batch as one statement over ``unnest`` of one array per
    column, so the server parses, plans and runs one statement instead of one per row
    (a prepared executemany still executes each row on its own)."""

    @staticmethod
    def _unnest(table: sa.Table, names: Sequence[str], dialect: Dialect) -> str:
        casts = ", ".join(
            f"${i}::{table.c[n].type.compile(dialect=dialect)}[]"
            for i, n in enumerate(names, start=1)
        )
        return f"unnest({casts})"

    @classmethod
    def insert(cls, table: sa.Table, names: Sequence[str], dialect: Dialect) -> _Statement:
        quote = dialect.identifier_preparer.quote
        columns = ", ".join(quote(n) for n in names)
        source = cls._unnest(table, names, dialect)
        return cls(f"INSERT INTO {quote(table.name)} ({columns}) SELECT * FROM {source}")

    @classmethod
    def update_by_id(cls, table: sa.Table, names: Sequence[str], dialect: Dialect) -> _Statement:
        quote = dialect.identifier_preparer.quote
        every = (*names, "id")
        sets = ", ".join(f"{quote(n)} = v.{quote(n)}" for n in names)
        source = cls._unnest(table, every, dialect)
        columns = ", ".join(quote(n) for n in every)
        return cls(
            f"UPDATE {quote(table.name)} AS t SET {sets} FROM {source} AS v({columns}) "
            f"WHERE t.{quote('id')} = v.{quote('id')}"
        )

    async def run(self, conn: AsyncConnection, rows: list[tuple[Any, ...]]) -> None:
        columns = tuple(list(column) for column in zip(*rows, strict=True))
        await conn.exec_driver_sql(self.sql, columns)


class BatchWriter:
    def __init__(self, dialect: Dialect) -> None:
        kind = _ArrayStatement if dialect.name == "postgresql" else _Statement
        self._parts: list[tuple[_Statement, Callable[[WriteBatch], list[tuple[Any, ...]]]]] = [
            (
                kind.insert(tasks, IMMUTABLE + MUTABLE, dialect),
                lambda b: [_insert(t, s) for t, s in b.inserts],
            ),
            (
                kind.update_by_id(tasks, MUTABLE, dialect),
                lambda b: [_update(s) for s in b.updates],
            ),
            (
                kind.insert(agent_task_executions, EXECUTION, dialect),
                lambda b: [_execution(e) for e in b.executions],
            ),
            (
                kind.insert(learning_logs, EVENT, dialect),
                lambda b: [_event(e) for e in b.events],
            ),
        ]

    async def write(self, conn: AsyncConnection, batch: WriteBatch) -> None:
        for statement, rows_of in self._parts:
            rows = rows_of(batch)
            if rows:
                await statement.run(conn, rows)
