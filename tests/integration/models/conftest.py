"""Fixtures: a local server speaking the OpenAI schema (one per module, reset per test)
and the API of a started server on SQLite and PostgreSQL, with the key's variable set."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from imperium.interfaces.api import create_app
from imperium.runtime import Imperium
from imperium.settings import Settings
from tests.support.openai_server import OpenAIServer, running_openai_server

KEY_ENV = "TEST_OPENAI_API_KEY"


@pytest.fixture(scope="module")
def module_server() -> Iterator[OpenAIServer]:
    with running_openai_server("sk-served") as server:
        yield server


@pytest.fixture
def server(module_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch) -> OpenAIServer:
    module_server.reset()
    monkeypatch.setenv(KEY_ENV, "sk-served")
    return module_server


@pytest.fixture
async def im(migrated_database_url: str, tmp_path: Path) -> AsyncIterator[Imperium]:
    settings = Settings(
        database_url=migrated_database_url, poll_interval=0.05, drain_seconds=0.2,
        retry_base_seconds=0.01, retry_cap_seconds=0.05, builtin_agents="",
        artefact_dir=str(tmp_path / "artefacts"),
    )  # fmt: skip
    runtime = await Imperium.open(settings, migrate=False)
    await runtime.start()
    yield runtime
    await runtime.close()


@pytest.fixture
async def client(im: Imperium) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(im))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        yield http
