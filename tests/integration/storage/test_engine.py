"""Engine construction: URL rewriting, the optional PostgreSQL driver, SQLite pragmas."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from imperium.adapters.storage.engine import (
    MissingDriverError,
    StorageConfigError,
    create_engine,
    normalize_url,
)
from imperium.adapters.storage.sql import SqlStore


@pytest.mark.parametrize(
    ("given", "driver"),
    [
        ("postgresql://u:p@db:5432/imperium", "postgresql+asyncpg"),
        ("postgres://u@db/imperium", "postgresql+asyncpg"),
        ("postgresql+asyncpg://u@db/imperium", "postgresql+asyncpg"),
        ("sqlite:///./imperium.db", "sqlite+aiosqlite"),
        ("sqlite+aiosqlite:////tmp/imperium.db", "sqlite+aiosqlite"),
    ],
)
def test_plain_urls_get_the_async_driver(given: str, driver: str) -> None:
    url = normalize_url(given)

    assert url.drivername == driver
    assert url.database == sa.make_url(given).database


@pytest.mark.parametrize("given", ["sqlite://", "sqlite:///:memory:", "sqlite+aiosqlite://"])
def test_in_memory_sqlite_is_refused(given: str) -> None:
    with pytest.raises(StorageConfigError, match="in-memory SQLite is not supported"):
        normalize_url(given)


def test_missing_asyncpg_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "asyncpg", None)  # makes ``import asyncpg`` fail

    with pytest.raises(MissingDriverError, match=r"pip install 'imperium\[postgres\]'"):
        create_engine("postgresql://u@db/imperium")


@pytest.mark.parametrize(("level", "value"), [("NORMAL", 1), ("full", 2), ("OFF", 0)])
async def test_sqlite_connections_use_wal_and_wait_for_locks(
    tmp_path: Path, level: str, value: int
) -> None:
    store = await SqlStore.connect(f"sqlite:///{tmp_path / 'x.db'}", sqlite_synchronous=level)
    try:
        async with store.engine.connect() as conn:
            pragma = {
                name: (await conn.exec_driver_sql(f"PRAGMA {name}")).scalar_one()
                for name in ("journal_mode", "synchronous", "busy_timeout", "cache_size")
            }
    finally:
        await store.close()

    assert pragma == {
        "journal_mode": "wal",
        "synchronous": value,
        "busy_timeout": 10_000,
        "cache_size": -32 * 1024,
    }


def test_unknown_synchronous_level_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StorageConfigError, match="must be one of OFF, NORMAL, FULL, EXTRA"):
        create_engine(f"sqlite:///{tmp_path / 'x.db'}", sqlite_synchronous="NORMAL; DROP")


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("mysql://root@localhost/db", "unsupported database driver 'mysql'"),
        ("postgresql+psycopg2://u@h/db", "unsupported database driver 'postgresql+psycopg2'"),
        ("not a url", "is not a database URL"),
    ],
)
def test_unsupported_databases_are_refused_with_the_supported_ones(
    given: str, message: str
) -> None:
    with pytest.raises(StorageConfigError, match=re.escape(message)) as caught:
        normalize_url(given)
    assert "sqlite+aiosqlite" in str(caught.value)
    assert "postgresql+asyncpg" in str(caught.value)


def test_switching_to_wal_waits_out_a_lock() -> None:
    import sqlite3

    from imperium.adapters.storage.engine import _set_wal

    class Cursor:
        calls = 0

        def execute(self, sql: str) -> None:
            self.calls += 1
            if self.calls < 3:
                raise sqlite3.OperationalError("database is locked")

    cursor = Cursor()
    _set_wal(cursor)
    assert cursor.calls == 3


def test_other_wal_errors_are_not_retried() -> None:
    import sqlite3

    from imperium.adapters.storage.engine import _set_wal

    class Cursor:
        def execute(self, sql: str) -> None:
            raise sqlite3.OperationalError("disk I/O error")

    with pytest.raises(sqlite3.OperationalError, match="disk I/O"):
        _set_wal(Cursor())
