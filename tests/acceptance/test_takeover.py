"""What a scheduler taking over from a dead one finds, in real processes: a primary that
was killed but not yet reaped (a zombie) is gone at once, not after the lock's TTL."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from imperium.adapters.processes import process_state
from tests.acceptance.conftest import Server

ServerFactory = Callable[..., Server]

pytestmark = pytest.mark.slow

LONG_TTL = "600"  # seconds: a standby that waited the lock out would time the test out


def wait_for_line(log: Path, text: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while text not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert text in log.read_text(), log.read_text()


def test_a_standby_takes_over_at_once_from_a_zombie(
    database_url: str, server_factory: ServerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IMPERIUM_LOCK_TTL_SECONDS", LONG_TTL)
    first = server_factory(database_url)
    first.wait_ready()
    standby = server_factory(database_url, "--standby")
    wait_for_line(standby.log, "standby: scheduler lock held by")
    first.proc.kill()
    # dead but not reaped (this test is its parent and does not wait yet): a zombie
    os.waitid(os.P_PID, first.proc.pid, os.WEXITED | os.WNOWAIT)
    assert process_state(first.proc.pid) in ("Z", None)  # None: no /proc here

    standby.wait_ready(timeout=60)  # not after the lock's 600 s

    assert "taking over scheduler lock" in standby.log.read_text()
    first.proc.wait()
