"""The dashboard in a real browser: Debian's chromium (``make system-deps`` installs it;
Playwright's own browser download is never used) driven by the Playwright package, against
a real ``imperium serve`` on a free port with its own SQLite database.

One server and one browser per module: the browser tests are few, and each starts in
about a second. Without /usr/bin/chromium they are skipped, except under CI, where they
fail. Screenshots go to ``test-artifacts/dashboard`` (git-ignored).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.acceptance.conftest import Server, cli_env

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
ARTIFACTS = ROOT / "test-artifacts" / "dashboard"


@pytest.hookimpl(tryfirst=True)  # before tests/conftest.py spreads the slow tests
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser" in str(item.path):
            item.add_marker(pytest.mark.slow)
            # a module's tests on one worker, one after the other: its server and Chromium
            # (module-scoped) start once, not once per worker its tests were spread to
            item.add_marker(pytest.mark.xdist_group(f"browser-{item.path.stem}"))


class Served(Server):
    """An ``imperium serve`` process (the acceptance tests' ``Server``), started and ready,
    with the CLI against its database."""

    def __init__(self, database_url: str, log: Path) -> None:
        super().__init__(database_url, log)
        self.database_url = database_url
        try:
            self.wait_ready(timeout=60)
        except BaseException:
            self.stop()  # not left running when it never became ready
            raise

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "imperium", *args],
            env=cli_env(self.database_url),
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
            check=True,
        )
        return done.stdout


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    where = tmp_path_factory.mktemp("dashboard")
    server = Served(f"sqlite:///{where / 'imperium.db'}", where / "serve.log")
    yield server
    server.stop()


@pytest.fixture
def served_alone(tmp_path: Path) -> Iterator[Served]:
    """A server of its own, for a test that turns API keys on (they stay on)."""
    server = Served(f"sqlite:///{tmp_path / 'imperium.db'}", tmp_path / "serve.log")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not CHROMIUM.exists():
        message = "no /usr/bin/chromium: `make system-deps` installs it (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
