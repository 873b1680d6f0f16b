"""``store``: one fixture for the contract tests, parametrized over every ``Store``
implementation (``memory``, ``sqlite``, ``postgresql``), each fresh and migrated (a copy of
the session's migrated database: tests/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from imperium.adapters.storage.memory import MemoryStore
from imperium.adapters.storage.sql import SqlStore
from imperium.ports import Store


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def store(
    request: pytest.FixtureRequest, make_migrated_database_url: Callable[[str], str]
) -> AsyncIterator[Store]:
    if request.param == "memory":
        yield MemoryStore()
        return
    sql_store = await SqlStore.connect(make_migrated_database_url(request.param))
    yield sql_store
    await sql_store.close()
