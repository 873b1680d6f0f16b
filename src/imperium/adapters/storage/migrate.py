"""Apply the Alembic migrations programmatically (no ``alembic.ini`` needed at run time).

``upgrade_database`` is safe to call at every start and from ``imperium db upgrade``, even
from several processes at once: it holds a database-wide lock while it migrates (an advisory
lock on PostgreSQL, a write transaction on SQLite), so a second caller waits and then finds
the schema at head.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncConnection

from imperium.adapters.storage.engine import create_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Any fixed 64-bit number; identifies Imperium's migration lock among advisory locks.
_PG_MIGRATION_LOCK = 0x1A7E_0001


def alembic_config(url: str | None = None) -> Config:
    """An Alembic ``Config`` pointing at the packaged migrations."""
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
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def is_current(url: str) -> bool:
    """True when the database is already at the latest migration (a read, no lock)."""
    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            current = await conn.run_sync(
                lambda sync: set(MigrationContext.configure(sync).get_current_heads())
            )
    finally:
        await engine.dispose()
    return current == heads


async def ensure_database(url: str) -> None:
    """Migrate only if needed, so a CLI command does not take the write lock each time."""
    if not await is_current(url):
        await upgrade_database(url)
