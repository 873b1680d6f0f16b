"""Fixtures shared by the whole suite.

Databases (every storage test runs against SQLite and a real PostgreSQL). The migrations
run once per session, into a template database (PostgreSQL) or file (SQLite) that tests
get copies of; tests/support/databases.py says how.

- ``migrated_database_url``: the URL of a database at the latest migration, with no rows,
  parametrized ``sqlite`` (a copy of the migrated file, under ``tmp_path``,
  ``sqlite+aiosqlite:///...``) and ``postgresql`` (a clone of the migrated template,
  ``imperium_t_<random>``, marked ``postgres``). For every test that needs tables but not
  the migrating itself. Sync fixture: usable from sync tests and subprocess tests too.
- ``database_url``: the same, but empty (no tables): for tests of migrating (the
  migrations, ``imperium db upgrade``, a server or runtime that migrates as it starts).
- ``sql_store``: a ``SqlStore`` connected to ``migrated_database_url`` (so also
  parametrized over both databases); closed afterwards.
- ``memory_store``: a fresh ``MemoryStore``.
- ``make_database_url`` and ``make_migrated_database_url``: factories,
  ``make_database_url("sqlite" | "postgresql") -> url``, for tests that need more than
  one database or choose the kind themselves.

A PostgreSQL database is never used by two tests at once, nor reachable after its test
under the same name; between tests it is reset rather than dropped (DROP DATABASE makes
the server checkpoint). Whatever a session creates is dropped when it ends.

- ``postgres_server`` (session): the reachable PostgreSQL server. Its URL comes from
  ``IMPERIUM_TEST_POSTGRES_URL``, else ``postgresql+asyncpg://postgres@127.0.0.1:5432/test``
  then the same with user ``root``. When none answers, postgres tests are skipped with
  the reason, or fail when ``CI`` is set (non-empty), so CI cannot pass without them.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import itertools
import os
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import hypothesis
import pytest
import sqlalchemy as sa
import typer.testing

from imperium.adapters.storage.memory import MemoryStore
from imperium.adapters.storage.sql import SqlStore
from tests.support.databases import (
    EMPTY,
    MIGRATED,
    AdminLoop,
    PostgresDatabases,
    SqliteTemplate,
    sqlite_url,
)

# Most tests work with the echo agent alone; the built-in agents' tests (and those of the
# schedule) ask for them explicitly. Processes the tests start inherit this.
os.environ.setdefault("IMPERIUM_BUILTIN_AGENTS", "echo")
# Rich sizes CLI output to the terminal; pytest-xdist's workers have none, so fix a wide
# width for every worker (messages the tests read stay on one line)
os.environ.setdefault("COLUMNS", "250")
# Nothing asserts on wall-clock time: Hypothesis's per-example deadline and its check that
# generating inputs is quick both fail a correct test on a loaded machine. (A test's own
# @settings overrides only what it names.)
hypothesis.settings.register_profile(
    "imperium", deadline=None, suppress_health_check=[hypothesis.HealthCheck.too_slow]
)
hypothesis.settings.load_profile("imperium")
# Typer's CliRunner turns the app into a Click command at every invoke: about 0.14 s of
# signature and annotation evaluation, half of the CLI tests' time. The app does not
# change during a session, so the command is built once (the CLI itself builds it once
# per process).
typer.testing._get_command = functools.cache(typer.testing._get_command)  # type: ignore[attr-defined]


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


@pytest.fixture(scope="session", autouse=True)
def _knowledge_file_roots(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Local knowledge sources may be read under the session's temporary directory (where
    every ``tmp_path`` lies), as IMPERIUM_KNOWLEDGE_FILE_ROOTS would say in a deployment."""
    before = os.environ.get("IMPERIUM_KNOWLEDGE_FILE_ROOTS")
    os.environ["IMPERIUM_KNOWLEDGE_FILE_ROOTS"] = str(tmp_path_factory.getbasetemp())
    yield
    if before is None:
        os.environ.pop("IMPERIUM_KNOWLEDGE_FILE_ROOTS", None)
    else:
        os.environ["IMPERIUM_KNOWLEDGE_FILE_ROOTS"] = before


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


REDIS_URL_ENV = "IMPERIUM_TEST_REDIS_URL"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A reachable Redis (``IMPERIUM_TEST_REDIS_URL``, else the local one). When none
    answers the test is skipped with the reason, or fails when ``CI`` is set. Tests use
    a key prefix of their own and delete it afterwards."""
    url = os.environ.get(REDIS_URL_ENV) or DEFAULT_REDIS_URL
    if importlib.util.find_spec("redis") is None:
        reason = "the redis package is not installed; run: pip install -e '.[dev]'"
    else:
        reason = run_isolated(_redis_problem(url))
        if reason is None:
            return url
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: redis tests must run)", pytrace=False)
    pytest.skip(reason)


async def _redis_problem(url: str) -> str | None:
    import redis.asyncio

    client = redis.asyncio.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        await client.ping()
    except Exception as exc:
        return f"Redis at {url} is unreachable ({exc}); start it or set {REDIS_URL_ENV}"
    finally:
        await client.aclose()
    return None


@pytest.fixture(scope="session")
def admin_loop() -> Iterator[AdminLoop]:
    loop = AdminLoop()
    yield loop
    loop.close()


@pytest.fixture(scope="session")
def postgres_databases(
    postgres_server: PostgresServer, admin_loop: AdminLoop
) -> Iterator[PostgresDatabases]:
    databases = PostgresDatabases(postgres_server.url, admin_loop)
    yield databases
    databases.close()


@pytest.fixture(scope="session")
def sqlite_template(
    tmp_path_factory: pytest.TempPathFactory, admin_loop: AdminLoop
) -> SqliteTemplate:
    return SqliteTemplate(tmp_path_factory.mktemp("template"), admin_loop)


@pytest.fixture
def _test_databases(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[str, str], str]]:
    """``make(kind, state)``: a database of ``kind`` that is ``empty`` or ``migrated``."""
    taken: list[tuple[str, str]] = []
    counter = itertools.count()

    def make(kind: str, state: str) -> str:
        if kind == "sqlite":
            path = tmp_path / f"imperium-{next(counter)}.db"
            if state == EMPTY:
                return sqlite_url(path)
            template: SqliteTemplate = request.getfixturevalue("sqlite_template")
            return template.copy_to(path)
        if kind == "postgresql":
            databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
            url = databases.take(state)
            taken.append((url, state))
            return url
        raise ValueError(f"unknown database kind {kind!r}; use 'sqlite' or 'postgresql'")

    yield make
    if taken:
        databases = request.getfixturevalue("postgres_databases")
        for url, state in reversed(taken):
            databases.give_back(url, state)


@pytest.fixture
def make_database_url(_test_databases: Callable[[str, str], str]) -> Callable[[str], str]:
    return lambda kind: _test_databases(kind, EMPTY)


@pytest.fixture
def make_migrated_database_url(
    _test_databases: Callable[[str, str], str],
) -> Callable[[str], str]:
    return lambda kind: _test_databases(kind, MIGRATED)


@pytest.fixture(params=DATABASE_KINDS)
def database_url(request: pytest.FixtureRequest, make_database_url: Callable[[str], str]) -> str:
    return make_database_url(request.param)


@pytest.fixture(params=DATABASE_KINDS)
def migrated_database_url(
    request: pytest.FixtureRequest, make_migrated_database_url: Callable[[str], str]
) -> str:
    return make_migrated_database_url(request.param)


@pytest.fixture
async def sql_store(migrated_database_url: str) -> AsyncIterator[SqlStore]:
    store = await SqlStore.connect(migrated_database_url)
    yield store
    await store.close()


@pytest.fixture
def memory_store() -> MemoryStore:
    return MemoryStore()


# ---------------------------------------------------------------------- aiosqlite threads
# Each aiosqlite connection has a thread. When SQLAlchemy gives up on a connection (a task
# cancelled while closing it, or one collected unclosed), it stops the thread without
# waiting: an operation still running there reports to the test's event loop after the
# loop has closed, and the error surfaces in whichever test runs next. So every async test
# waits, on its own loop, for the aiosqlite threads it started to end.
SQLITE_THREADS_TIMEOUT = 30.0  # > the 10 s SQLite busy timeout an operation can wait out


def _sqlite_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.endswith("(_connection_worker_thread)")}


@pytest.fixture
async def _sqlite_threads_end() -> AsyncIterator[None]:
    before = _sqlite_threads()
    yield
    try:
        async with asyncio.timeout(SQLITE_THREADS_TIMEOUT):
            while _sqlite_threads() - before:  # noqa: ASYNC110 - threads have no awaitable end
                await asyncio.sleep(0.005)
    except TimeoutError:
        left = len(_sqlite_threads() - before)
        pytest.fail(
            f"{left} SQLite connection(s) this test opened are still open after "
            f"{SQLITE_THREADS_TIMEOUT:.0f} s: close every store and engine it opens",
            pytrace=False,
        )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if not isinstance(item, pytest.Function) or item.get_closest_marker("asyncio") is None:
            continue
        if "_sqlite_threads_end" not in item.fixturenames:  # shared by a test's parameters
            item.fixturenames.insert(0, "_sqlite_threads_end")  # first set up, last torn down
    _spread_slow_tests(items)
    if getattr(config.option, "loadgroup", False):
        _group_xdist_tests(items)


def _group_xdist_tests(items: list[pytest.Item]) -> None:
    """Send the tests marked ``xdist_group(name)`` to one worker under ``--dist loadgroup``
    (e.g. the Ray tests, which share one Ray). pytest-xdist 3.8 does it by appending
    ``@name`` to ``item._nodeid``, which pytest 9 no longer reads (the id is ``item._id``),
    so every group was spread over all workers; this appends it where pytest 9 keeps it.
    A no-op where xdist's own suffix took effect."""
    from _pytest.nodeid import coerce_node_id  # pytest >= 9

    for item in items:
        mark = item.get_closest_marker("xdist_group")
        if mark is None or "@" in item.nodeid:
            continue
        name = mark.args[0] if mark.args else mark.kwargs.get("name", "default")
        item._id = coerce_node_id(f"{item.nodeid}@{name}")  # type: ignore[attr-defined]


def _spread_slow_tests(items: list[pytest.Item]) -> None:
    """Interleave the tests marked ``slow`` (real processes, seconds each) evenly through
    the first two thirds of the run. pytest-xdist hands each worker a contiguous run of
    tests, so in file order one worker got every acceptance test and the others sat idle
    at the end; and a slow test handed out last keeps a worker busy after the rest end."""
    slow = [item for item in items if item.get_closest_marker("slow") is not None]
    fast = iter([item for item in items if item.get_closest_marker("slow") is None])
    step = (2 * (len(items) - len(slow))) // (3 * len(slow)) if slow else 0
    spread: list[pytest.Item] = []
    for item in slow:
        spread.append(item)
        spread.extend(itertools.islice(fast, step))
    spread.extend(fast)
    items[:] = spread
