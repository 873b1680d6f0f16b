"""Whether the scheduler lock's holder is gone, with real processes: one that runs, one
that exited and was reaped, and a zombie (exited, not yet reaped by its parent), which
``os.kill(pid, 0)`` alone takes for alive."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from imperium.adapters.processes import process_is_gone, process_state
from imperium.runtime import holder_is_dead

HOST = socket.gethostname()


@pytest.fixture
def zombie() -> Iterator[int]:
    """The pid of a child that has exited and is not reaped until the test ends."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    # wait for the exit without reaping it (WNOWAIT): from here on it is a zombie
    os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)
    yield child.pid
    child.wait()


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_a_zombie_holder_is_dead(zombie: int) -> None:
    assert process_state(zombie) == "Z"
    os.kill(zombie, 0)  # what the check used to rely on: no error, as if it were alive
    assert process_is_gone(zombie)
    assert holder_is_dead(f"{HOST}:{zombie}:abcd1234")


def test_a_running_holder_is_alive_and_a_reaped_one_is_dead() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                             stdin=subprocess.PIPE)  # fmt: skip
    try:
        assert not process_is_gone(child.pid)
        assert not holder_is_dead(f"{HOST}:{child.pid}:abcd1234")
    finally:
        child.communicate(b"")
    assert process_is_gone(child.pid)
    assert holder_is_dead(f"{HOST}:{child.pid}:abcd1234")


def test_this_process_and_other_hosts_are_never_dead() -> None:
    assert not holder_is_dead(f"{HOST}:{os.getpid()}:abcd1234")
    assert not holder_is_dead(f"another-{HOST}:999999999:abcd1234")
    assert not holder_is_dead("scheduler-1")


def test_without_proc_the_signal_check_decides(tmp_path: Path) -> None:
    """A system without /proc (macOS, a container without it) falls back to os.kill."""
    assert process_state(os.getpid(), proc=tmp_path) is None
    assert not process_is_gone(os.getpid(), proc=tmp_path)


@pytest.mark.parametrize(
    ("stat", "state"),
    [
        ("42 (python) S 1 42 42 0 -1", "S"),
        ("42 (my (odd) name) Z 1 42", "Z"),  # the command name may hold ") "
        ("42 (x) X 1", "X"),
        ("42 (x)", None),
    ],
)
def test_the_state_is_read_after_the_command_name(
    tmp_path: Path, stat: str, state: str | None
) -> None:
    (tmp_path / "42").mkdir()
    (tmp_path / "42" / "stat").write_text(stat)
    assert process_state(42, proc=tmp_path) == state
