"""The dashboard's in-process tests share a started runtime over a migrated SQLite copy."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from imperium.runtime import Imperium
from imperium.settings import Settings


@pytest.fixture
async def im(make_migrated_database_url: Callable[[str], str]) -> AsyncIterator[Imperium]:
    settings = Settings(
        database_url=make_migrated_database_url("sqlite"), poll_interval=0.05, drain_seconds=0.2
    )
    runtime = await Imperium.open(settings, migrate=False)
    await runtime.start()
    yield runtime
    await runtime.close()
