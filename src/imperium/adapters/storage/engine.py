"""Building the ``AsyncEngine`` for a database URL: driver choice, SQLite pragmas, JSON codec.

Used by ``SqlStore.connect`` and by the migrations, so both see the same connection setup.
"""

from __future__ import annotations

import importlib
import sqlite3
import time
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from imperium.domain.errors import ImperiumError

SQLITE_SYNCHRONOUS = ("OFF", "NORMAL", "FULL", "EXTRA")
SQLITE_CACHE_KIB = 32 * 1024
SQLITE_BUSY_TIMEOUT_MS = 10_000

_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
}


class StorageConfigError(ImperiumError):
    """The database URL or storage settings cannot be used as given."""


class MissingDriverError(StorageConfigError):
    """The database driver for the URL is not installed; the message names the extra."""


_SUPPORTED = (
    "Imperium runs on SQLite (sqlite+aiosqlite:///./imperium.db) or PostgreSQL "
    "(postgresql+asyncpg://user@host/dbname)"
)


def normalize_url(url: str) -> sa.URL:
    """Parse ``url``, choosing the async driver for plain ``postgresql://``/``sqlite:///``."""
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise StorageConfigError(
            f"DATABASE_URL {url!r} is not a database URL; {_SUPPORTED}"
        ) from exc
    drivername = _ASYNC_DRIVERS.get(parsed.drivername, parsed.drivername)
    parsed = parsed.set(drivername=drivername)
    if drivername not in ("sqlite+aiosqlite", "postgresql+asyncpg"):
        raise StorageConfigError(f"unsupported database driver {drivername!r}; {_SUPPORTED}")
    if parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:"):
        raise StorageConfigError(
            "in-memory SQLite is not supported: each connection would see its own empty "
            "database; give a file path (sqlite+aiosqlite:///./imperium.db) or use MemoryStore"
        )
    if parsed.get_backend_name() == "postgresql":
        _require("asyncpg", "pip install 'imperium[postgres]'")
    return parsed


def _require(module: str, install: str) -> None:
    try:
        importlib.import_module(module)
    except ImportError as exc:
        raise MissingDriverError(
            f"the PostgreSQL driver {module!r} is not installed; run: {install}"
        ) from exc


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def _json_loads(value: str | bytes | int | float) -> Any:
    # A JSON column on SQLite has NUMERIC affinity: a top-level number (payload ``7``) is
    # stored, and returned, as an INTEGER or REAL rather than as the text '7'.
    if isinstance(value, int | float):
        return value
    return orjson.loads(value)


def create_engine(url: str, *, sqlite_synchronous: str = "NORMAL") -> AsyncEngine:
    """An ``AsyncEngine`` for ``url``; SQLite connections get WAL, ``synchronous`` and a
    busy timeout so that concurrent writers wait instead of failing."""
    parsed = normalize_url(url)
    engine = create_async_engine(parsed, json_serializer=_json_dumps, json_deserializer=_json_loads)
    if parsed.get_backend_name() == "sqlite":
        _install_sqlite_pragmas(engine, _check_synchronous(sqlite_synchronous))
    return engine


def _check_synchronous(value: str) -> str:
    level = value.strip().upper()
    if level not in SQLITE_SYNCHRONOUS:
        raise StorageConfigError(
            f"sqlite synchronous must be one of {', '.join(SQLITE_SYNCHRONOUS)}, not {value!r}"
        )
    return level


def _set_wal(cursor: Any) -> None:
    """Switch to WAL. On a new file another connection may be mid-migration; SQLite then
    answers "database is locked" at once for a journal-mode change (the busy timeout does
    not apply), so wait for it here, up to the same timeout."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _install_sqlite_pragmas(engine: AsyncEngine, synchronous: str) -> None:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        _set_wal(cursor)
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        # 32 MiB of page cache per connection (the default is 2 MiB): the task table's
        # indexes stay in memory with a large backlog
        cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        cursor.close()

    sa.event.listen(engine.sync_engine, "connect", on_connect)
