"""Test databases, set up once per session and then cloned, copied or reused.

PostgreSQL. The migrations run once into a template database, ``imperium_tmpl_<hash>``,
named after a hash of the migrations directory: a changed migration makes a new template,
and templates of other hashes are dropped when one is made. Nobody may connect to a
template (``ALLOW_CONNECTIONS false``), so ``CREATE DATABASE ... TEMPLATE`` can always
clone it. The template outlives the session (it is a cache, like ``.pytest_cache``).

Each pytest process keeps the databases it created in a pool. A test takes one; after
the test the pool ends its connections, renames it (a process the test left behind can
no longer reach it) and resets it: every row deleted and sequences restarted (migrated
databases), or the public schema recreated (empty ones). It is reused only if its schema
then matches a fresh one exactly; otherwise it is dropped. Reuse matters because DROP
DATABASE makes the whole server checkpoint, which on a busy machine costs more than most
tests. The pool drops everything it created when the session ends.

SQLite. The migrations run once into a file per session; each test gets a copy.
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import sqlite3
import threading
import uuid
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa

from imperium.adapters.storage.migrate import MIGRATIONS_DIR, upgrade_database

MIGRATED, EMPTY = "migrated", "empty"
TEMPLATE_PREFIX = "imperium_tmpl_"
DATABASE_PREFIX = "imperium_t_"
# Any fixed 64-bit number (not the application's migration lock): one template build at a
# time across every worker and session using the server.
_TEMPLATE_LOCK = 0x1A7E_7E57

T = TypeVar("T")

# Everything a test could change in a database's schema, as one text to compare.
_FINGERPRINT = r"""
SELECT coalesce(md5(string_agg(part, E'\n' ORDER BY part)), '') FROM (
  SELECT format('column %s.%s %s %s %s', c.relname, a.attname,
                format_type(a.atttypid, a.atttypmod), a.attnotnull,
                pg_get_expr(d.adbin, d.adrelid)) AS part
    FROM pg_attribute a
    JOIN pg_class c ON c.oid = a.attrelid
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
   WHERE c.relnamespace = 'public'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
  UNION ALL SELECT format('relation %s %s', relname, relkind) FROM pg_class
   WHERE relnamespace = 'public'::regnamespace
  UNION ALL SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = 'public'
  UNION ALL SELECT format('constraint %s %s', conname, pg_get_constraintdef(oid))
    FROM pg_constraint WHERE connamespace = 'public'::regnamespace
  UNION ALL SELECT format('trigger %s', tgname) FROM pg_trigger WHERE NOT tgisinternal
  UNION ALL SELECT 'function ' || oid::regprocedure::text FROM pg_proc
   WHERE pronamespace = 'public'::regnamespace
  UNION ALL SELECT 'type ' || typname FROM pg_type
   WHERE typnamespace = 'public'::regnamespace AND typrelid = 0 AND typelem = 0
  UNION ALL SELECT 'schema ' || nspname FROM pg_namespace
   WHERE nspname NOT LIKE 'pg\_%' AND nspname <> 'information_schema'
  UNION ALL SELECT format('public %s %s', nspowner::regrole, nspacl) FROM pg_namespace
   WHERE nspname = 'public'
  UNION ALL SELECT 'extension ' || extname FROM pg_extension
) parts
"""


def migrations_hash() -> str:
    """A short hash of every file of the migrations (so a changed one makes a new template)."""
    digest = hashlib.sha256()
    for path in sorted(MIGRATIONS_DIR.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(path.relative_to(MIGRATIONS_DIR).as_posix().encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


class AdminLoop:
    """An event loop on a thread of its own, so sync fixtures can do async admin work
    without touching the loop pytest-asyncio gives the test."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="test-databases", daemon=True
        )
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()


class PostgresDatabases:
    """The pool of one pytest process: databases cloned from the template (or created
    empty), handed out one per test and reset between tests."""

    def __init__(self, server_url: sa.URL, loop: AdminLoop) -> None:
        self.server_url = server_url  # an existing database, for CREATE/ALTER/DROP DATABASE
        self.template = TEMPLATE_PREFIX + migrations_hash()
        self._loop = loop
        self._free: dict[str, list[str]] = {MIGRATED: [], EMPTY: []}
        self._created: set[str] = set()
        self._fresh: dict[str, str] = {}  # kind -> the fingerprint of a fresh database
        self._has_template = False

    # ------------------------------------------------------------------ the fixtures' side
    def take(self, kind: str) -> str:
        """A database of ``kind`` (``migrated`` or ``empty``) for one test; its URL."""
        name = self._free[kind].pop() if self._free[kind] else self._loop.run(self._new(kind))
        return self.url(name)

    def give_back(self, url: str, kind: str) -> None:
        """After the test: reset the database for the next one, or drop it."""
        name = sa.make_url(url).database
        assert name is not None
        self._loop.run(self._recycle(name, kind))

    def close(self) -> None:
        """Drop every database this pool created (the template stays for the next run)."""
        self._loop.run(self._drop_all())

    def url(self, name: str) -> str:
        return self.server_url.set(database=name).render_as_string(hide_password=False)

    # ------------------------------------------------------------------ creating
    async def _new(self, kind: str) -> str:
        name = _new_name()
        if kind == MIGRATED:
            await self._clone_template(name)
        else:
            await self._admin(f'CREATE DATABASE "{name}"')
        self._created.add(name)
        if kind not in self._fresh:
            self._fresh[kind] = await self._fingerprint_of(name)
        return name

    async def _clone_template(self, name: str) -> None:
        import asyncpg

        if not self._has_template:
            await self._ensure_template()
        try:
            await self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        except asyncpg.InvalidCatalogNameError:
            # a run with other migrations dropped it (templates of other hashes are stale)
            await self._ensure_template()
            await self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')

    async def _ensure_template(self) -> None:
        """Make the template unless a complete one exists; drop templates of other hashes."""
        conn = await self._connect(self.server_url)
        try:
            await conn.execute("SELECT pg_advisory_lock($1)", _TEMPLATE_LOCK)
            ready = await conn.fetchval(
                "SELECT datistemplate FROM pg_database WHERE datname = $1", self.template
            )
            if not ready:  # absent, or a build that died half-way (made under this lock)
                await self._build_template(conn)
            stale = await conn.fetch(
                "SELECT datname FROM pg_database WHERE datname LIKE $1 AND datname <> $2",
                TEMPLATE_PREFIX.replace("_", r"\_") + "%",
                self.template,
            )
            for row in stale:
                await conn.execute(f'ALTER DATABASE "{row[0]}" WITH IS_TEMPLATE false')
                await conn.execute(f'DROP DATABASE "{row[0]}" WITH (FORCE)')
        finally:
            await conn.close()  # also releases the advisory lock
        self._has_template = True

    async def _build_template(self, conn: Any) -> None:
        await conn.execute(f'DROP DATABASE IF EXISTS "{self.template}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{self.template}"')
        await upgrade_database(self.url(self.template))
        await conn.execute(
            f'ALTER DATABASE "{self.template}" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false'
        )

    # ------------------------------------------------------------------ reusing
    async def _recycle(self, name: str, kind: str) -> None:
        import asyncpg

        renamed = _new_name()
        try:
            # end what the test left connected (as DROP DATABASE ... WITH (FORCE) would);
            # the new name keeps a leftover process from reaching the next test's data
            await self._admin(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = $1 AND pid <> pg_backend_pid()",
                name,
            )
            await self._admin(f'ALTER DATABASE "{name}" RENAME TO "{renamed}"')
        except asyncpg.PostgresError:
            await self._drop(name)
            return
        self._created.discard(name)
        self._created.add(renamed)
        if await self._reset(renamed, kind):
            self._free[kind].append(renamed)
        else:
            await self._drop(renamed)

    async def _reset(self, name: str, kind: str) -> bool:
        """Make ``name`` like a fresh database of ``kind``; False when that cannot be told."""
        import asyncpg

        conn = await self._connect(self.server_url.set(database=name))
        try:
            if kind == MIGRATED:
                if await _fingerprint(conn) != self._fresh[kind]:
                    return False  # the test changed the schema (or its version)
                await _delete_every_row(conn)
                return True
            await conn.execute(
                "DROP SCHEMA public CASCADE;"
                " CREATE SCHEMA public AUTHORIZATION pg_database_owner;"
                " GRANT USAGE ON SCHEMA public TO PUBLIC"
            )
            return bool(await _fingerprint(conn) == self._fresh[kind])
        except asyncpg.PostgresError:
            return False
        finally:
            await conn.close()

    async def _fingerprint_of(self, name: str) -> str:
        conn = await self._connect(self.server_url.set(database=name))
        try:
            return await _fingerprint(conn)
        finally:
            await conn.close()

    # ------------------------------------------------------------------ dropping
    async def _drop(self, name: str) -> None:
        await self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self._created.discard(name)

    async def _drop_all(self) -> None:
        for name in sorted(self._created):
            await self._drop(name)
        self._free = {MIGRATED: [], EMPTY: []}

    # ------------------------------------------------------------------ connections
    async def _admin(self, statement: str, *args: object) -> None:
        conn = await self._connect(self.server_url)
        try:
            await conn.execute(statement, *args)
        finally:
            await conn.close()

    @staticmethod
    async def _connect(url: sa.URL) -> Any:
        import asyncpg

        dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        return await asyncpg.connect(dsn, timeout=10)


async def _fingerprint(conn: Any) -> str:
    schema: str = await conn.fetchval(_FINGERPRINT)
    if await conn.fetchval("SELECT to_regclass('public.alembic_version')") is None:
        return schema
    versions = await conn.fetch("SELECT version_num FROM alembic_version ORDER BY 1")
    return schema + " " + ",".join(row[0] for row in versions)


async def _delete_every_row(conn: Any) -> None:
    """Every table emptied (but ``alembic_version``) and every sequence restarted."""
    import asyncpg

    tables = [
        row[0]
        for row in await conn.fetch(
            "SELECT quote_ident(tablename) FROM pg_tables"
            " WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
        )
    ]
    sequences = [
        row[0]
        for row in await conn.fetch(
            "SELECT quote_ident(sequencename) FROM pg_sequences WHERE schemaname = 'public'"
        )
    ]
    restart = "".join(f"ALTER SEQUENCE {seq} RESTART;" for seq in sequences)
    try:  # DELETE: TRUNCATE makes new files for every table, slower for a few rows
        await conn.execute("".join(f"DELETE FROM {table};" for table in tables) + restart)
    except asyncpg.ForeignKeyViolationError:  # rows refer to each other across tables
        await conn.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")


def _new_name() -> str:
    return f"{DATABASE_PREFIX}{uuid.uuid4().hex[:16]}"


class SqliteTemplate:
    """A SQLite file migrated once (per session), copied for each test that asks."""

    def __init__(self, directory: Path, loop: AdminLoop) -> None:
        self.path = directory / "imperium-template.db"
        self._loop = loop
        self._ready = False

    def copy_to(self, path: Path) -> str:
        if not self._ready:
            self._loop.run(upgrade_database(sqlite_url(self.path)))
            with sqlite3.connect(self.path) as conn:  # all in the main file, none in a -wal
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.close()
            self._ready = True
        shutil.copyfile(self.path, path)
        return sqlite_url(path)


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"
