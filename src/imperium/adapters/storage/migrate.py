"""Apply the Alembic migrations programmatically (no ``alembic.ini`` needed at run time).

``upgrade_database`` is safe to call at every start and from ``imperium db upgrade``, even
from several processes at once: it holds a database-wide lock while it migrates (an advisory
lock on PostgreSQL, a write transaction on SQLite), so a second caller waits and then finds
the schema at head.

Alembic (with Mako and Pygments) takes about half a second to import, a third of a CLI
command's start. It is imported only to migrate: whether the database is at head is read
from ``alembic_version`` and the packaged migrations' file names (``NNNN_name.py`` with
revision ``NNNN``, one line of history; a test holds Alembic's own view to this).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from imperium.adapters.storage.engine import create_engine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_REVISION_FILE = re.compile(r"^(\d{4})_\w+\.py$")
# Any fixed 64-bit number; identifies Imperium's migration lock among advisory locks.
_PG_MIGRATION_LOCK = 0x1A7E_0001


def alembic_config(url: str | None = None) -> Config:
    """An Alembic ``Config`` pointing at the packaged migrations."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    if url is not None:
        # kept out of the ini options, where '%' in a password would be interpolated
        config.attributes["url"] = url
    return config


async def upgrade_database(url: str, revision: str = "head") -> None:
    """Migrate the database at ``url`` to ``revision`` (default: the latest)."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            await _lock_for_migration(conn)
            await conn.run_sync(_upgrade, alembic_config(url), revision)
            await conn.commit()
    finally:
        await engine.dispose()


async def _lock_for_migration(conn: AsyncConnection) -> None:
    if conn.dialect.name == "postgresql":
        lock = sa.text("SELECT pg_advisory_xact_lock(:key)")
        await conn.execute(lock, {"key": _PG_MIGRATION_LOCK})
    elif conn.dialect.name == "sqlite":
        # takes the write lock now (waiting out busy_timeout) rather than at the first DDL
        await conn.exec_driver_sql("BEGIN IMMEDIATE")


def _upgrade(connection: sa.Connection, config: Config, revision: str) -> None:
    from alembic import command

    config.attributes["connection"] = connection
    command.upgrade(config, revision)


@functools.cache
def code_heads() -> tuple[str, ...]:
    """The head revision of the packaged migrations: the highest ``NNNN`` of the files in
    ``migrations/versions`` (read once: they do not change while the process runs)."""
    numbers = (
        found.group(1)
        for file in (MIGRATIONS_DIR / "versions").iterdir()
        if (found := _REVISION_FILE.match(file.name))
    )
    return (max(numbers),)


def recorded_heads(sync: sa.Connection) -> tuple[str, ...]:
    """The revision(s) recorded in the database's ``alembic_version`` (none before the
    first migration)."""
    if not sa.inspect(sync).has_table("alembic_version"):
        return ()
    rows = sync.execute(sa.text("SELECT version_num FROM alembic_version"))
    return tuple(sorted(row[0] for row in rows))


async def is_current(url: str) -> bool:
    """True when the database is already at the latest migration (a read, no lock)."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            current = await conn.run_sync(recorded_heads)
    finally:
        await engine.dispose()
    return current == code_heads()


async def ensure_database(url: str) -> None:
    """Migrate only if needed, so a CLI command does not take the write lock each time."""
    if not await is_current(url):
        await upgrade_database(url)
