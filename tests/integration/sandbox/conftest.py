"""Fixtures for the sandbox's real runs.

- ``sandbox_host``: how this machine isolates runs (the default policy's probe). Where
  bubblewrap cannot run, tests that need it are skipped with the reason — or fail when
  ``CI`` is set, as CI installs bubblewrap.
- ``api_client``: a started runtime on a SQLite file, behind the API, with the built-in
  agents a test module names in its ``BUILTIN_AGENTS`` (default none).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from imperium.adapters.sandbox import Host, SandboxPolicy, SandboxUnavailableError, probe
from imperium.interfaces.api import create_app
from imperium.runtime import Imperium
from imperium.settings import Settings


@pytest.fixture
def sandbox_host() -> Host:
    try:
        return probe(SandboxPolicy())
    except SandboxUnavailableError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"{exc} (CI is set: the sandbox tests must run)", pytrace=False)
        pytest.skip(str(exc))


@pytest.fixture
async def api_client(
    request: pytest.FixtureRequest, tmp_path: Path, sandbox_host: Host
) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'imperium.db'}",
        builtin_agents=getattr(request.module, "BUILTIN_AGENTS", ""),
        poll_interval=0.05, drain_seconds=0.2,
    )  # fmt: skip
    runtime = await Imperium.open(settings)
    await runtime.start()
    transport = httpx.ASGITransport(app=create_app(runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        yield http
    await runtime.close()
