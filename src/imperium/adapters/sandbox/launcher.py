"""Starting the command under the launcher and waiting for it: the launcher, inside the
sandbox, applies the limits, runs the command and reports how it ended; the process group
is killed when the run ends or times out (with bubblewrap, that ends its PID namespace)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from imperium.adapters.sandbox.errors import SandboxError
from imperium.adapters.sandbox.limits import Limits, to_rlimits
from imperium.adapters.sandbox.plan import PYTHON, Plan

# Runs as ``python -I -S -c _LAUNCHER CONFIG COMMAND...`` (-I -S: nothing in the working
# directory or the environment changes what it imports). It forks the command, with the
# limits set in the child, and reports over a pipe that it started and how the command
# ended, with the CPU time and peak memory of the command and the children it reaped.
_LAUNCHER = r"""
import json, os, resource, signal, sys
config = json.loads(sys.argv[1])
command = sys.argv[2:]
status = config["status_fd"]
os.set_inheritable(status, False)

def report(**fields):
    os.write(status, (json.dumps(fields) + "\n").encode())

def confine():
    for name, soft, hard in config["rlimits"]:
        which = getattr(resource, name)
        ceiling = resource.getrlimit(which)[1]
        if ceiling != resource.RLIM_INFINITY:
            soft, hard = min(soft, ceiling), min(hard, ceiling)
        resource.setrlimit(which, (soft, hard))
    for name in ("SIGPIPE", "SIGXFSZ"):
        signal.signal(getattr(signal, name), signal.SIG_DFL)

report(started=True)
child = os.fork()
if child == 0:
    try:
        confine()
    except BaseException as exc:
        report(setup_error=f"{type(exc).__name__}: {exc}")
        os._exit(125)
    try:
        os.execvp(command[0], command)
    except OSError as exc:
        os.write(2, f"sandbox: cannot run {command[0]!r}: {exc.strerror}\n".encode())
    os._exit(127)
while True:
    pid, wait_status, usage = os.wait4(-1, 0)
    if pid == child:
        break
end = {"cpu": usage.ru_utime + usage.ru_stime, "maxrss_kb": usage.ru_maxrss}
if os.WIFSIGNALED(wait_status):
    report(signal=os.WTERMSIG(wait_status), **end)
    os._exit(128 + os.WTERMSIG(wait_status))
report(exit=os.WEXITSTATUS(wait_status), **end)
os._exit(os.WEXITSTATUS(wait_status))
"""


def execute(
    command: Sequence[str], plan: Plan, base: Path, limits: Limits, stdin: str | None
) -> tuple[int, bool, float, dict[str, Any]]:
    """Run the command; (the return code, timed out, duration, what the launcher reported)."""
    (base / "stdin").write_text(stdin or "", encoding="utf-8")
    status_read, status_write = os.pipe()
    config = {"status_fd": status_write, "rlimits": to_rlimits(limits, plan.nproc)}
    launcher = [plan.python, "-I", "-S", "-c", _LAUNCHER, json.dumps(config)]
    argv = [*plan.prefix, *launcher, plan.python if command[0] == PYTHON else command[0]]
    try:
        returncode, exited, duration = _spawn_and_wait(
            [*argv, *command[1:]], plan, base, status_write, limits.timeout
        )
    except BaseException:
        os.close(status_read)
        raise
    return returncode, not exited, duration, _read_status(status_read)


def _spawn_and_wait(
    argv: list[str], plan: Plan, base: Path, status_fd: int, timeout: float
) -> tuple[int, bool, float]:
    """(return code, whether it exited before the timeout, duration)."""
    with (
        (base / "stdin").open("rb") as stdin,
        (base / "stdout").open("wb") as stdout,
        (base / "stderr").open("wb") as stderr,
    ):
        started = time.monotonic()
        try:
            proc = subprocess.Popen(
                argv,
                cwd=plan.cwd,
                env=plan.env,
                stdin=stdin,
                stdout=stdout,
                stderr=stderr,
                start_new_session=True,
                pass_fds=(status_fd,),
            )
        except OSError as exc:
            raise SandboxError(f"cannot start the sandbox ({argv[0]}): {exc}") from exc
        finally:
            os.close(status_fd)
        try:
            returncode, exited = proc.wait(timeout), True
        except subprocess.TimeoutExpired:
            _kill_group(proc.pid)
            returncode, exited = proc.wait(), False
        _kill_group(proc.pid)  # an unsafe run's leftovers (bubblewrap's die with it)
    return returncode, exited, time.monotonic() - started


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _read_status(fd: int) -> dict[str, Any]:
    os.set_blocking(fd, False)
    chunks = []
    with open(fd, "rb", closefd=True) as pipe:
        while chunk := pipe.read(65536):
            chunks.append(chunk)
    status: dict[str, Any] = {}
    for line in b"".join(chunks).decode("utf-8", "replace").splitlines():
        try:
            status.update(json.loads(line))
        except ValueError:
            continue
    return status
