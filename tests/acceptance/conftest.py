"""Acceptance tests run the real ``imperium`` command in subprocesses."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def cli_env(database_url: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(DATABASE_URL=database_url, PYTHONPATH=str(ROOT), LOG_LEVEL="INFO", **extra)
    return env


def imperium(
    database_url: str, *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "imperium", *args],
        env=cli_env(database_url),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


class Server:
    """An ``imperium serve`` process; stderr goes to a file the test can read."""

    def __init__(self, database_url: str, log: Path, *args: str) -> None:
        self.log = log
        self.url = ""
        self._fh = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "imperium", "serve", "--port", "0", *args],
            env=cli_env(database_url, IMPERIUM_POLL_INTERVAL="0.05"),
            stdout=self._fh,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(r"API on (http://\S+?) ", self.log.read_text().replace("\n", " "))
            if found:
                self.url = found.group(1)
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited early:\n{self.log.read_text()}")
            time.sleep(0.05)
        raise AssertionError(f"serve did not become ready:\n{self.log.read_text()}")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._fh.close()
        return self.proc.returncode


@pytest.fixture
def sqlite_database_url(make_database_url) -> str:
    """An empty SQLite database, for tests whose subject does not depend on the database."""
    url: str = make_database_url("sqlite")
    return url


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[object]:
    servers: list[Server] = []

    def start(database_url: str, *args: str) -> Server:
        server = Server(database_url, tmp_path / f"serve-{len(servers)}.log", *args)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
