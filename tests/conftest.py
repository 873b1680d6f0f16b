"""Fixtures shared by the whole suite.

Databases (every storage test runs against SQLite and a real PostgreSQL):

- ``database_url``: the URL of a fresh, empty database (no tables), parametrized
  ``sqlite`` (a file under ``tmp_path``, ``sqlite+aiosqlite:///...``) and ``postgresql``
  (``CREATE DATABASE imperium_t_<random>`` on the test server, dropped after the test;
  marked ``postgres``). Sync fixture: usable from sync tests and subprocess tests too.
- ``sql_store``: a ``SqlStore`` connected to ``database_url`` after
  ``upgrade_database`` (so also parametrized over both databases); closed afterwards.
- ``memory_store``: a fresh ``MemoryStore``.
- ``make_database_url``: a factory, ``make_database_url("sqlite" | "postgresql") -> url``,
  for tests that need more than one database or choose the kind themselves.
- ``postgres_server`` (session): the reachable PostgreSQL server. Its URL comes from
  ``IMPERIUM_TEST_POSTGRES_URL``, else ``postgresql+asyncpg://postgres@127.0.0.1:5432/test``
  then the same with user ``root``. When none answers, postgres tests are skipped with
  the reason, or fail when ``CI`` is set (non-empty), so CI cannot pass without them.
"""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
import os
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import sqlalchemy as sa

from imperium.adapters.storage.memory import MemoryStore
from imperium.adapters.storage.migrate import upgrade_database
from imperium.adapters.storage.sql import SqlStore

# Most tests work with the echo agent alone; the built-in agents' tests (and those of the
# schedule) ask for them explicitly. Processes the tests start inherit this.
os.environ.setdefault("IMPERIUM_BUILTIN_AGENTS", "echo")
# Rich sizes CLI output to the terminal; pytest-xdist's workers have none, so fix a wide
# width for every worker (messages the tests read stay on one line)
os.environ.setdefault("COLUMNS", "250")

POSTGRES_URL_ENV = "IMPERIUM_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_URLS = (
    "postgresql+asyncpg://postgres@127.0.0.1:5432/test",
    "postgresql+asyncpg://root@127.0.0.1:5432/test",
)
DATABASE_KINDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]

T = TypeVar("T")


def run_isolated(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on a private event loop in a worker thread, so sync fixtures can do
    async admin work without touching the loop pytest-asyncio gives the test."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


@dataclass(frozen=True)
class PostgresServer:
    """A PostgreSQL server the tests may create and drop databases on."""

    url: sa.URL  # an existing database on the server, used for CREATE/DROP DATABASE

    def create_database(self) -> str:
        """Create an empty database; returns its ``postgresql+asyncpg://`` URL."""
        name = f"imperium_t_{uuid.uuid4().hex[:16]}"
        run_isolated(self._admin(f'CREATE DATABASE "{name}"'))
        return self.url.set(database=name).render_as_string(hide_password=False)

    def drop_database(self, url: str) -> None:
        name = sa.make_url(url).database
        run_isolated(self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    async def _admin(self, statement: str) -> None:
        import asyncpg

        conn = await asyncpg.connect(_asyncpg_dsn(self.url), timeout=10)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()


def _asyncpg_dsn(url: sa.URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


async def _first_reachable(urls: list[sa.URL]) -> tuple[sa.URL | None, list[str]]:
    import asyncpg

    errors = []
    for url in urls:
        try:
            conn = await asyncpg.connect(_asyncpg_dsn(url), timeout=5)
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            errors.append(f"{url.render_as_string()}: {exc!r}")
            continue
        await conn.close()
        return url, errors
    return None, errors


@pytest.fixture(scope="session")
def postgres_server() -> PostgresServer:
    configured = os.environ.get(POSTGRES_URL_ENV)
    candidates = [configured] if configured else list(DEFAULT_POSTGRES_URLS)
    urls = [sa.make_url(u).set(drivername="postgresql+asyncpg") for u in candidates]
    if importlib.util.find_spec("asyncpg") is None:
        reason = "asyncpg is not installed; run: pip install -e '.[dev]'"
    else:
        url, errors = run_isolated(_first_reachable(urls))
        if url is not None:
            return PostgresServer(url)
        reason = (
            f"PostgreSQL is unreachable ({'; '.join(errors)}); start it or set {POSTGRES_URL_ENV}"
        )
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: postgres tests must run)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def make_database_url(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[str], str]]:
    created: list[tuple[PostgresServer, str]] = []
    counter = itertools.count()

    def make(kind: str) -> str:
        if kind == "sqlite":
            return f"sqlite+aiosqlite:///{tmp_path / f'imperium-{next(counter)}.db'}"
        if kind == "postgresql":
            server: PostgresServer = request.getfixturevalue("postgres_server")
            url = server.create_database()
            created.append((server, url))
            return url
        raise ValueError(f"unknown database kind {kind!r}; use 'sqlite' or 'postgresql'")

    yield make
    for server, url in created:
        server.drop_database(url)


@pytest.fixture(params=DATABASE_KINDS)
def database_url(request: pytest.FixtureRequest, make_database_url: Callable[[str], str]) -> str:
    return make_database_url(request.param)


@pytest.fixture
async def sql_store(database_url: str) -> AsyncIterator[SqlStore]:
    await upgrade_database(database_url)
    store = await SqlStore.connect(database_url)
    yield store
    await store.close()


@pytest.fixture
def memory_store() -> MemoryStore:
    return MemoryStore()
