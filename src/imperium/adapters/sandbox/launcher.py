"""Starting the command under the launcher and waiting for it: the launcher applies the
limits and the uid, reports how the command ended, and its process group is killed when
the run ends or times out."""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from imperium.adapters.sandbox.errors import SandboxError
from imperium.adapters.sandbox.isolation import Plan
from imperium.adapters.sandbox.limits import Limits, to_rlimits

# The launcher runs as ``python -I -S -c _LAUNCHER CONFIG COMMAND...``: -I -S so that nothing
# in the working directory or the environment can change what it imports. It forks the
# command (limits and user applied in the child) and waits for it, reaping orphans too when
# it is the init of a PID namespace; when it exits, that namespace's processes are killed.
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
    uid = config["uid"]
    if uid is not None:
        import ctypes
        if ctypes.CDLL(None, use_errno=True).prctl(38, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    for name in ("SIGPIPE", "SIGXFSZ"):
        signal.signal(getattr(signal, name), signal.SIG_DFL)

def resolve(name):  # before confine(): a switched uid may not read this Python's stdlib
    for directory in ([] if "/" in name else os.environ.get("PATH", os.defpath).split(os.pathsep)):
        path = os.path.join(directory, name)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return name

report(started=True)
child = os.fork()
if child == 0:
    executable = resolve(command[0])
    try:
        confine()
    except BaseException as exc:
        report(setup_error=f"{type(exc).__name__}: {exc}")
        os._exit(125)
    try:
        os.execv(executable, command)
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
    command: Sequence[str],
    plan: Plan,
    base: Path,
    limits: Limits,
    env: dict[str, str],
    stdin: str | None,
) -> tuple[int, bool, float, dict[str, Any]]:
    """Run the launcher; (its return code, timed out, duration, what it reported)."""
    (base / "stdin").write_text(stdin or "", encoding="utf-8")
    status_read, status_write = os.pipe()
    config = {
        "status_fd": status_write,
        "rlimits": to_rlimits(limits, plan.nproc_enforced),
        "uid": plan.uid,
    }
    launcher = [sys.executable, "-I", "-S", "-c", _LAUNCHER, json.dumps(config)]
    try:
        returncode, exited, duration = _spawn_and_wait(
            [*plan.prefix, *launcher, *command], base, env, status_write, limits.timeout
        )
    except BaseException:
        os.close(status_read)
        raise
    return returncode, not exited, duration, _read_status(status_read)


def _spawn_and_wait(
    argv: list[str], base: Path, env: dict[str, str], status_fd: int, timeout: float
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
                cwd=base / "work",
                env=env,
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
        exited = _wait_for_exit(proc.pid, timeout)
        _kill_group(proc.pid)  # leftovers of a finished run, or everything on timeout
        returncode = proc.wait()
    return returncode, exited, time.monotonic() - started


def _wait_for_exit(pid: int, timeout: float) -> bool:
    """True if ``pid`` exits within ``timeout``. It is not reaped, so its process group id
    cannot be reused before we kill the group."""
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        pidfd = None
    if pidfd is not None:
        try:
            return bool(select.select([pidfd], [], [], timeout)[0])
        finally:
            os.close(pidfd)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
            return True
        time.sleep(0.01)
    return False


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
