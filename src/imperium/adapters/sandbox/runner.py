"""The process runner: :func:`run_isolated` and its :class:`RunResult`."""

from __future__ import annotations

import signal
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imperium.adapters.sandbox.errors import SandboxError
from imperium.adapters.sandbox.host import SandboxPolicy, probe
from imperium.adapters.sandbox.launcher import execute
from imperium.adapters.sandbox.limits import Limits
from imperium.adapters.sandbox.plan import Plan, make_plan
from imperium.adapters.sandbox.workdir import (
    collect_files,
    hand_over,
    populate,
    read_capped,
    remove_tree,
    safe_relative,
)


@dataclass(frozen=True, slots=True)
class RunResult:
    """How a sandboxed command ended. ``exit_code`` is None when a signal ended it."""

    exit_code: int | None
    signal: str | None
    timed_out: bool
    stdout: str
    stderr: str
    stdout_truncated: bool
    stderr_truncated: bool
    duration: float
    isolation: dict[str, Any]
    killed_reason: str | None = None  # "timeout" | "cpu" | "memory" | "file_size"
    cpu_time: float | None = None  # user + system seconds of the command and reaped children
    max_rss_mb: float | None = None
    collected: dict[str, str] = field(default_factory=dict)

    @property
    def truncated(self) -> bool:
        return self.stdout_truncated or self.stderr_truncated


def run_isolated(
    command: Sequence[str],
    *,
    files: Mapping[str, str] | None = None,
    copy_from: Path | None = None,
    timeout: float = 30,
    cpu_seconds: int = 30,
    memory_mb: int = 512,
    file_size_mb: int = 16,
    max_processes: int = 64,
    network: bool = False,
    env: Mapping[str, str] | None = None,
    stdin: str | None = None,
    collect: Sequence[str] = (),
    policy: SandboxPolicy | None = None,
) -> RunResult:
    """Run ``command`` (``"python"`` as its first word: the sandbox's Python) in a fresh
    directory holding ``files`` (and/or a copy of ``copy_from``) under the limits;
    ``collect`` names files to read back before the directory is deleted. Raises
    ValueError for bad arguments (UnsafePathError for a file name that escapes),
    SandboxUnavailableError when this host cannot isolate code and ``policy`` does not
    allow unsafe runs, and SandboxError when the sandbox itself fails."""
    if not command or not all(isinstance(part, str) for part in command):
        raise ValueError("command must be a non-empty list of strings")
    limits = Limits(timeout, cpu_seconds, memory_mb, file_size_mb, max_processes)
    if copy_from is not None and not Path(copy_from).is_dir():
        raise ValueError(f"copy_from {copy_from} is not a directory")
    for name in files or {}:
        safe_relative(name)
    host = probe(policy or SandboxPolicy())
    try:
        base = Path(tempfile.mkdtemp(prefix="imperium-sandbox-"))
    except OSError as exc:
        raise SandboxError(f"cannot create a temporary directory: {exc}") from exc
    try:
        plan = make_plan(host, limits, network, base, env)
        _prepare(base, files, copy_from, plan, host.run_as)
        return _run(base, command, plan, limits, stdin, collect)
    finally:
        remove_tree(base)


def _prepare(
    base: Path,
    files: Mapping[str, str] | None,
    copy_from: Path | None,
    plan: Plan,
    run_as: int | None,
) -> None:
    """The work directory (an unsafe run gets a temporary one beside it), handed to the
    uid the run uses; ``base`` then lets that uid pass, not list: its stdin, stdout and
    stderr stay the server's."""
    workdir = base / "work"
    try:
        workdir.mkdir()
        populate(workdir, files, copy_from)
        if not plan.prefix:
            (base / "tmp").mkdir()
        if run_as is not None:
            base.chmod(0o711)
            hand_over([workdir], run_as)
    except OSError as exc:
        raise SandboxError(f"cannot prepare the sandbox directory: {exc}") from exc


def _run(
    base: Path,
    command: Sequence[str],
    plan: Plan,
    limits: Limits,
    stdin: str | None,
    collect: Sequence[str],
) -> RunResult:
    returncode, timed_out, duration, status = execute(command, plan, base, limits, stdin)
    stdout, stdout_cut = read_capped(base / "stdout")
    stderr, stderr_cut = read_capped(base / "stderr")
    timed_out = timed_out and "exit" not in status  # not if it finished at the deadline
    if "setup_error" in status or not (status.get("started") or timed_out):
        why = status.get("setup_error") or f"exit status {returncode}: {stderr.strip()[-500:]}"
        raise SandboxError(f"the sandbox did not start the command ({why})")
    exit_code, sig = _outcome(returncode, timed_out, status)
    cpu = status.get("cpu")
    rss = status.get("maxrss_kb")
    return RunResult(
        exit_code=exit_code,
        signal=sig,
        timed_out=timed_out,
        stdout=stdout,
        stderr=stderr,
        stdout_truncated=stdout_cut,
        stderr_truncated=stderr_cut,
        duration=round(duration, 3),
        isolation=plan.isolation,
        killed_reason=_killed_reason(timed_out, exit_code, sig, cpu, stderr, limits),
        cpu_time=None if cpu is None else round(cpu, 3),
        max_rss_mb=None if rss is None else round(rss / 1024, 1),
        collected=collect_files(base / "work", collect),
    )


def _outcome(
    returncode: int, timed_out: bool, status: dict[str, Any]
) -> tuple[int | None, str | None]:
    """(exit code, signal name) of the command, from the launcher's report when it made one."""
    if "exit" in status:
        return int(status["exit"]), None
    if "signal" in status:
        return None, _signal_name(int(status["signal"]))
    if timed_out or returncode < 0:  # killed before the launcher could report
        return None, _signal_name(-returncode if returncode < 0 else signal.SIGKILL)
    return returncode, None


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _killed_reason(
    timed_out: bool,
    exit_code: int | None,
    sig: str | None,
    cpu: float | None,
    stderr: str,
    limits: Limits,
) -> str | None:
    """Which limit ended the run, when that can be told (Python's errors name it)."""
    last = stderr.rstrip().rsplit("\n", 1)[-1]
    if timed_out:
        return "timeout"
    if sig == "SIGXCPU" or (sig == "SIGKILL" and cpu is not None and cpu >= limits.cpu_seconds):
        return "cpu"
    if sig == "SIGXFSZ" or (exit_code != 0 and "File too large" in last):
        return "file_size"
    if exit_code != 0 and "MemoryError" in last:
        return "memory"
    return None
