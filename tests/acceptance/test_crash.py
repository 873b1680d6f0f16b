"""Invariant 7: kill -9 in the middle of a load, restart, and check that nothing
acknowledged was lost and no completion was recorded twice."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from imperium.adapters.storage.sql import SqlStore
from imperium.domain.states import Outcome, TaskState
from tests.acceptance.conftest import ROOT, cli_env

pytestmark = pytest.mark.slow
TOTAL = 400


def _harness(
    url: str, acks: Path, count: int, log: Path, sleep: float = 0.02
) -> subprocess.Popen[str]:
    args = [url, str(acks), str(count), str(log), str(sleep)]
    return subprocess.Popen(
        [sys.executable, "-m", "tests.support.crash_harness", *args],
        env=cli_env(url),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


async def _inspect(url: str, ids: list[str]) -> tuple[dict[str, TaskState], dict[str, list]]:
    store = await SqlStore.connect(url)
    try:
        states = await store.task_states(ids)
        executions = {i: await store.executions_for(i) for i in ids}
    finally:
        await store.close()
    return states, executions


def test_kill_9_mid_load_loses_nothing_and_records_once(database_url: str, tmp_path: Path) -> None:
    acks, log = tmp_path / "acks.txt", tmp_path / "runs.txt"
    first = _harness(database_url, acks, TOTAL, log)
    deadline = time.monotonic() + 60
    while len(_lines(acks)) < TOTAL // 3 and time.monotonic() < deadline:
        assert first.poll() is None, first.stdout.read() if first.stdout else ""
        time.sleep(0.01)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    acknowledged = _lines(acks)
    assert TOTAL // 3 <= len(acknowledged) < TOTAL, "the kill must land mid-load"

    second = _harness(database_url, acks, 0, log)
    out, _ = second.communicate(timeout=120)
    assert second.returncode == 0, out
    assert "IDLE" in out

    states, executions = asyncio.run(_inspect(database_url, acknowledged))
    assert set(states) == set(acknowledged), "an acknowledged task was lost"
    assert all(s is TaskState.SUCCEEDED for s in states.values()), states
    for task_id, rows in executions.items():
        outcomes = [e.outcome for e in rows]
        assert outcomes.count(Outcome.SUCCEEDED) == 1, (task_id, outcomes)
        assert [e.attempt for e in rows] == list(range(1, len(rows) + 1))
        assert set(outcomes) <= {Outcome.SUCCEEDED, Outcome.LOST}
    # at-least-once: every acknowledged task ran at least once, some maybe twice
    ran = {line.split()[0] for line in log.read_text().splitlines()}
    assert set(acknowledged) <= ran
    lost = [e for rows in executions.values() for e in rows if e.outcome is Outcome.LOST]
    assert all(e.error_kind == "scheduler_restart" for e in lost)


def _kill_when_started(proc: subprocess.Popen[str], after: float) -> None:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.strip() == "STARTED", line + proc.stdout.read()
    time.sleep(after)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def test_a_crash_loop_kills_no_innocent_task(database_url: str, tmp_path: Path) -> None:
    """The scheduler is killed again and again, each time soon after it came back, while
    the same attempts run: they are lost to restarts, not charged to the tasks, so every
    acknowledged task still succeeds once the scheduler stays up."""
    acks, log = tmp_path / "acks.txt", tmp_path / "runs.txt"
    first = _harness(database_url, acks, 60, log, sleep=1.0)
    deadline = time.monotonic() + 60
    while len(_lines(acks)) < 60 and time.monotonic() < deadline:
        assert first.poll() is None
        time.sleep(0.01)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    acknowledged = _lines(acks)
    for _ in range(5):  # each run re-starts the lost attempts, then dies under them
        _kill_when_started(_harness(database_url, acks, 0, log, sleep=1.0), after=0.3)
    last = _harness(database_url, acks, 0, log)
    out, _ = last.communicate(timeout=120)
    assert last.returncode == 0, out

    states, executions = asyncio.run(_inspect(database_url, acknowledged))
    assert set(states) == set(acknowledged)
    assert all(s is TaskState.SUCCEEDED for s in states.values()), states
    lost = [e for rows in executions.values() for e in rows if e.outcome is Outcome.LOST]
    assert max(len(rows) for rows in executions.values()) > 3, "crashes hit running attempts"
    assert all(e.error_kind == "scheduler_restart" for e in lost)
