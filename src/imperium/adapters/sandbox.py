"""Running untrusted code in a throw-away sandbox: :func:`run_isolated` and :func:`run_pytest`.

Linux only. Each measure is detected at run time and ``RunResult.isolation`` reports what
was in force for that run — nothing is claimed that is not.

- **Network**: a new network namespace, ``unshare --net`` (as root) or ``unshare --net
  --map-root-user`` (otherwise; needs unprivileged user namespaces). It holds only a
  loopback device, down: no connection leaves it, not even to the host's 127.0.0.1. Without
  a working ``unshare`` the child has the host's network and the report says why.
- **Processes**: a new PID namespace (``unshare --pid --fork --kill-child``) whose init is
  a small launcher (``_LAUNCHER``). When the command ends or the run is killed, the kernel
  kills every process left in the namespace, even ones that called ``setsid``. Without it
  only the command's process group is killed, and a process that leaves the group survives.
- **Limits**: rlimits set by the launcher in the command's process just before ``exec``:
  RLIMIT_CPU (SIGXCPU at the limit, SIGKILL a second later), RLIMIT_AS (address space, not
  resident memory: Python raises MemoryError), RLIMIT_FSIZE (SIGXFSZ; Python ignores it and
  gets OSError EFBIG instead; it also bounds what stdout and stderr may write, as they go to
  files), RLIMIT_CORE=0 and RLIMIT_NPROC. Each applies per process (children inherit it);
  no cgroup is used, so nothing caps a run's total memory or CPU across its processes.
- **User and the process limit**: RLIMIT_NPROC counts the processes and threads of the
  child's *real uid*, and the kernel never applies it to root. So when the server runs as
  root the command runs as a fresh unprivileged uid (``UID_BASE`` + its working directory's
  inode number modulo ``UID_SPAN``: distinct for concurrent runs in practice, never in
  /etc/passwd), where RLIMIT_NPROC applies and the server's files are protected by their
  permissions (the working directories are chowned to it), and the launcher sets
  ``no_new_privs`` so set-uid programs cannot give root back. That needs the command's
  executable (and the directories above it) to be usable by other users: a Python installed
  under ``/root`` (pyenv) is not, and then the child stays root — the report says so and
  says the process limit is not enforced. As an ordinary user inside a user namespace, the
  child is "root" in the namespace and the server's uid outside; RLIMIT_NPROC applies and
  counts the namespace's processes, ``unshare`` and the launcher included (kernels from
  5.14; older ones count all of the uid's processes). As an ordinary user without a user
  namespace the process limit is not set (it would count every process of the server's uid).
- **Wall clock**: after ``timeout`` seconds SIGKILL goes to the whole process group (which
  includes the PID namespace's init, so the namespace dies with it).
- **Files**: a fresh ``mkdtemp`` directory is the working directory and HOME, TMPDIR a
  sibling; both are deleted afterwards. There is no mount namespace: the rest of the file
  system is visible with the child's user's permissions. **As root that is every file**:
  then this sandbox bounds resources and cuts the network, but it is not a security
  boundary against hostile code.
- **Environment**: only PATH, HOME, TMPDIR, LANG and PYTHONDONTWRITEBYTECODE, plus ``env``.

The launcher reports over a pipe that it started and how the command ended (with its CPU
time and peak memory), which tells a broken sandbox (``SandboxError``) from a command that
failed (a normal :class:`RunResult`).
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import math
import os
import select
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar

log = logging.getLogger(__name__)

OUTPUT_CAP = 1_000_000  # bytes kept of stdout and of stderr (half from the head, half tail)
COLLECT_CAP = 8_000_000  # bytes read of a file collected from the working directory
UID_BASE = 2_000_000_000  # sandbox uids: UID_BASE .. UID_BASE + UID_SPAN - 1
UID_SPAN = 1 << 24
MAX_FAILURES = 100  # failed tests listed in a TestRun
_PROBE_TIMEOUT = 5.0
_MB = 1024 * 1024
_COPY_IGNORE = (".git", ".venv", "venv", "node_modules", "__pycache__", ".*_cache")

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


class SandboxError(Exception):
    """The sandbox itself failed (temporary directory, ``unshare``, the launcher): not the
    command's doing, so another attempt may succeed."""


class UnsafePathError(ValueError):
    """A name in ``files`` is absolute or climbs out of the working directory."""


@dataclass(frozen=True, slots=True)
class Limits:
    """What one run may use. Validated on creation."""

    timeout: float = 30
    cpu_seconds: int = 30
    memory_mb: int = 512
    file_size_mb: int = 16
    max_processes: int = 64

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ValueError(f"limit {name} must be a positive number, not {value!r}")


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

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out

    def summary(self) -> dict[str, Any]:
        """JSON-ready fields (all but ``collected``)."""
        fields = asdict(self)
        del fields["collected"]
        fields["truncated"] = self.truncated
        return fields


@dataclass(frozen=True, slots=True)
class HostSupport:
    """What this machine allows; each ``*_problem`` is None when the measure works."""

    is_root: bool
    unshare: str | None
    net_problem: str | None
    pid_problem: str | None
    uid_problem: str | None


@dataclass(frozen=True, slots=True)
class _Plan:
    prefix: list[str]  # the unshare command line, or empty
    uid: int | None  # the uid the command runs as, when switched
    nproc_enforced: bool
    isolation: dict[str, Any]


# ---------------------------------------------------------------------------- the host


def _probe(command: list[str]) -> str | None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=_PROBE_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if done.returncode != 0:
        return (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
    return None


def _ids_mapped(map_file: str) -> bool:
    """Whether the sandbox uid range is mapped in this (possibly nested) user namespace."""
    try:
        lines = Path(map_file).read_text().splitlines()
    except OSError:
        return False
    for line in lines:
        inside, _outside, count = (int(n) for n in line.split())
        if inside <= UID_BASE and inside + count >= UID_BASE + UID_SPAN:
            return True
    return False


@functools.cache
def host_support() -> HostSupport:
    """Probe once per process what isolation this machine gives (a few milliseconds)."""
    is_root = os.geteuid() == 0
    unshare = shutil.which("unshare")
    userns = [] if is_root else ["--map-root-user"]
    missing: str | None = None
    if not sys.platform.startswith("linux"):
        missing = f"namespaces need Linux, this is {sys.platform}"
    elif unshare is None:
        missing = "the unshare command (util-linux) is not installed"
    net = missing or _probe([unshare or "", *userns, "--net", "true"])
    pid = missing or _probe([unshare or "", *userns, "--pid", "--fork", "--kill-child", "true"])
    uid_problem: str | None = None
    if not is_root:
        uid_problem = "the server does not run as root, so it cannot switch uid"
    elif not (_ids_mapped("/proc/self/uid_map") and _ids_mapped("/proc/self/gid_map")):
        uid_problem = f"uids from {UID_BASE} are not mapped in this user namespace"
    return HostSupport(is_root, unshare, net, pid, uid_problem)


def isolation_available() -> bool:
    """True when runs get their own network namespace (no network)."""
    return host_support().net_problem is None


def _unusable_by_others(executable: str, search_path: str) -> str | None:
    """Why a switched uid could not run ``executable``, or None if it could."""
    found = shutil.which(executable, path=search_path)
    if found is None:
        return f"{executable} is not on the sandbox's PATH"
    try:
        for candidate in dict.fromkeys([Path(found).absolute(), Path(os.path.realpath(found))]):
            for directory in candidate.parents:
                if not os.stat(directory).st_mode & stat.S_IXOTH:
                    return f"{directory} is not accessible to other users (it holds {candidate})"
            if not os.stat(candidate).st_mode & stat.S_IXOTH:
                return f"{candidate} is not executable by other users"
    except OSError as exc:
        return str(exc)
    return None


def _namespaces(host: HostSupport, network: bool) -> tuple[list[str], str, str]:
    """(unshare flags, how the network is isolated, how processes are)."""
    flags: list[str] = []
    if network:
        net = "host network (requested)"
    elif host.net_problem is None:
        flags.append("--net")
        net = "none (network namespace via unshare)"
    else:
        net = f"host network (unshare unavailable: {host.net_problem})"
    if host.pid_problem is None:
        flags += ["--pid", "--fork", "--kill-child"]
        processes = "own PID namespace via unshare: all are killed when the run ends"
    else:
        processes = (
            f"process group only (PID namespace unavailable: {host.pid_problem}); "
            "a process that leaves the group survives the run"
        )
    return flags, net, processes


def _plan(command: Sequence[str], limits: Limits, network: bool, workdir: Path) -> _Plan:
    host = host_support()
    flags, net, processes = _namespaces(host, network)
    userns = bool(flags) and not host.is_root
    if flags:
        flags = [host.unshare or "unshare", *(["--map-root-user"] if userns else []), *flags]
    uid, user, nproc = _choose_user(command, host, userns, workdir)
    rlimits: dict[str, Any] = {
        "cpu_seconds": limits.cpu_seconds,
        "memory_mb": limits.memory_mb,  # of address space, per process
        "file_size_mb": limits.file_size_mb,
        "core_dumps": "disabled",
        "max_processes": limits.max_processes if nproc is None else f"not enforced: {nproc}",
    }
    as_root = host.is_root and uid is None
    isolation = {
        "network": net,
        "processes": processes,
        "user": user,
        "rlimits": rlimits,
        "timeout_seconds": limits.timeout,
        "workdir": "fresh temporary directory",
        "filesystem": "shared with the host (no mount namespace): "
        + ("as root, every file is readable and writable" if as_root else "user permissions"),
        "environment": "minimal",
    }
    return _Plan(flags, uid, nproc is None, isolation)


def _choose_user(
    command: Sequence[str], host: HostSupport, userns: bool, workdir: Path
) -> tuple[int | None, str, str | None]:
    """(uid to switch to, how the user is described, why NPROC is not enforced or None)."""
    if not host.is_root:
        if userns:
            return None, f"uid {os.getuid()} (root only inside a user namespace)", None
        why = f"without a user namespace it would count every process of uid {os.getuid()}"
        return None, f"uid {os.getuid()} (the server's user)", why
    problem = host.uid_problem or _unusable_by_others(command[0], _sandbox_path())
    if problem is None:
        uid = UID_BASE + os.stat(workdir).st_ino % UID_SPAN
        return uid, f"uid {uid} (fresh and unprivileged; no_new_privs)", None
    return None, f"root (no uid switch: {problem})", "RLIMIT_NPROC does not apply to root"


# ------------------------------------------------------------------------ the directory


def _safe_relative(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if not name or "\x00" in name or path.is_absolute() or ".." in path.parts or not path.parts:
        raise UnsafePathError(
            f"file name {name!r} must be a relative path inside the sandbox "
            "(no leading '/', no '..')"
        )
    return path


def _populate(workdir: Path, files: Mapping[str, str] | None, copy_from: Path | None) -> None:
    if copy_from is not None:
        try:
            shutil.copytree(
                copy_from,
                workdir,
                symlinks=True,
                ignore=shutil.ignore_patterns(*_COPY_IGNORE),
                dirs_exist_ok=True,
            )
        except (OSError, shutil.Error) as exc:
            raise SandboxError(f"cannot copy {copy_from} into the sandbox: {exc}") from exc
    for name, content in (files or {}).items():
        target = workdir / _safe_relative(name)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content, encoding="utf-8")
        except OSError as exc:  # e.g. both "a" and "a/b" given
            raise ValueError(f"cannot write file {name!r}: {exc.strerror}") from exc


def _hand_over(paths: Sequence[Path], uid: int) -> None:
    """Give the switched uid its directories (and everything in them)."""
    for top in paths:
        os.chown(top, uid, uid)
        for root, dirs, names in os.walk(top):
            for name in dirs + names:
                os.chown(os.path.join(root, name), uid, uid, follow_symlinks=False)


def _remove_tree(base: Path) -> None:
    if os.geteuid() != 0:  # a child may have left directories we cannot list
        for root, dirs, _names in os.walk(base):
            for name in dirs:
                path = os.path.join(root, name)
                if not os.path.islink(path):
                    with contextlib.suppress(OSError):
                        os.chmod(path, 0o700)
    try:
        shutil.rmtree(base)
    except OSError:
        log.warning("could not remove sandbox directory", exc_info=True, extra={"path": base})


def _collect(workdir: Path, names: Sequence[str]) -> dict[str, str]:
    """Regular files (never through a symlink) the command left, read up to COLLECT_CAP."""
    found: dict[str, str] = {}
    for name in names:
        try:
            fd = os.open(workdir / _safe_relative(name), os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            continue
        with open(fd, "rb") as handle:
            if stat.S_ISREG(os.fstat(fd).st_mode):
                found[name] = handle.read(COLLECT_CAP).decode("utf-8", "replace")
    return found


# ----------------------------------------------------------------------------- the run


def _sandbox_path() -> str:
    return os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"])


def _child_env(workdir: Path, tmpdir: Path, extra: Mapping[str, str] | None) -> dict[str, str]:
    env = {
        "PATH": _sandbox_path(),
        "HOME": str(workdir),
        "TMPDIR": str(tmpdir),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    env.update(extra or {})
    return env


def _rlimits(limits: Limits, nproc: bool) -> list[tuple[str, int, int]]:
    memory, fsize = int(limits.memory_mb * _MB), int(limits.file_size_mb * _MB)
    cpu, processes = math.ceil(limits.cpu_seconds), int(limits.max_processes)
    rlimits = [
        ("RLIMIT_CPU", cpu, cpu + 1),
        ("RLIMIT_AS", memory, memory),
        ("RLIMIT_FSIZE", fsize, fsize),
        ("RLIMIT_CORE", 0, 0),
    ]
    if nproc:
        rlimits.append(("RLIMIT_NPROC", processes, processes))
    return rlimits


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


def _read_capped(path: Path) -> tuple[str, bool]:
    size = path.stat().st_size
    with path.open("rb") as handle:
        if size <= OUTPUT_CAP:
            return handle.read().decode("utf-8", "replace"), False
        head = handle.read(OUTPUT_CAP // 2)
        handle.seek(size - OUTPUT_CAP // 2)
        tail = handle.read()
    omitted = size - len(head) - len(tail)
    text = head + f"\n[... {omitted} bytes omitted ...]\n".encode() + tail
    return text.decode("utf-8", "replace"), True


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


def _execute(
    command: Sequence[str],
    plan: _Plan,
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
        "rlimits": _rlimits(limits, plan.nproc_enforced),
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
) -> RunResult:
    """Run ``command`` in a fresh directory holding ``files`` (and/or a copy of
    ``copy_from``) under the limits; ``collect`` names files to read back before the
    directory is deleted. Raises ValueError for bad arguments (UnsafePathError for a file
    name that escapes) and SandboxError when the sandbox itself fails."""
    if not command or not all(isinstance(part, str) for part in command):
        raise ValueError("command must be a non-empty list of strings")
    limits = Limits(timeout, cpu_seconds, memory_mb, file_size_mb, max_processes)
    if copy_from is not None and not Path(copy_from).is_dir():
        raise ValueError(f"copy_from {copy_from} is not a directory")
    for name in files or {}:
        _safe_relative(name)
    try:
        base = Path(tempfile.mkdtemp(prefix="imperium-sandbox-"))
    except OSError as exc:
        raise SandboxError(f"cannot create a temporary directory: {exc}") from exc
    try:
        return _run_in(base, command, files, copy_from, limits, network, env, stdin, collect)
    finally:
        _remove_tree(base)


def _run_in(
    base: Path,
    command: Sequence[str],
    files: Mapping[str, str] | None,
    copy_from: Path | None,
    limits: Limits,
    network: bool,
    env: Mapping[str, str] | None,
    stdin: str | None,
    collect: Sequence[str],
) -> RunResult:
    workdir, tmpdir = base / "work", base / "tmp"
    try:
        workdir.mkdir()
        tmpdir.mkdir()
        _populate(workdir, files, copy_from)
        plan = _plan(command, limits, network, workdir)
        if plan.uid is not None:
            base.chmod(0o711)  # the child may pass through, not list
            _hand_over([workdir, tmpdir], plan.uid)
    except OSError as exc:
        raise SandboxError(f"cannot prepare the sandbox directory: {exc}") from exc
    child_env = _child_env(workdir, tmpdir, env)
    returncode, timed_out, duration, status = _execute(
        command, plan, base, limits, child_env, stdin
    )
    stdout, stdout_cut = _read_capped(base / "stdout")
    stderr, stderr_cut = _read_capped(base / "stderr")
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
        collected=_collect(workdir, collect),
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


# ---------------------------------------------------------------------------- pytest


@dataclass(frozen=True, slots=True)
class FailedTest:
    name: str
    kind: str  # "failed" | "error"
    message: str


@dataclass(frozen=True, slots=True)
class TestRun:
    """A pytest run: counts from its JUnit XML report, None when there is no report."""

    __test__: ClassVar[bool] = False  # not a test class, whatever pytest thinks of the name

    run: RunResult
    passed: int | None
    failed: int | None
    errors: int | None
    skipped: int | None
    total: int | None
    failures: tuple[FailedTest, ...]
    reason: str | None  # why the counts are missing or pytest did not finish normally

    def counts(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "failed": self.failed,
            "errors": self.errors,
            "skipped": self.skipped,
            "total": self.total,
            "failures": [asdict(f) for f in self.failures],
            "reason": self.reason,
        }


_PYTEST_EXITS = {
    2: "pytest was interrupted (errors during collection, e.g. a module that does not import)",
    3: "pytest hit an internal error",
    4: "pytest was called wrongly (usage error)",
    5: "pytest collected no tests",
}
_REPORT = ".report.xml"


def run_pytest(
    project: Mapping[str, str] | Path, *, args: Sequence[str] = (), **limits: Any
) -> TestRun:
    """Run pytest on ``project`` (files by name, or a directory to copy) in the sandbox.

    ``limits`` are :func:`run_isolated`'s keyword arguments. Note that the code under test
    runs inside pytest's process, so hostile code could forge the report it writes."""
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    command += ["--junitxml", _REPORT, *args]
    if isinstance(project, Path):
        result = run_isolated(command, copy_from=project, collect=[_REPORT], **limits)
    else:
        result = run_isolated(command, files=dict(project), collect=[_REPORT], **limits)
    return _test_run(result, result.collected.get(_REPORT))


def _test_run(result: RunResult, report: str | None) -> TestRun:
    reason = _pytest_reason(result)
    if report is None:
        return TestRun(result, None, None, None, None, None, (), reason or "pytest wrote no report")
    try:
        cases = ElementTree.fromstring(report).iter("testcase")
        tally, failures = _tally(cases)
    except ElementTree.ParseError as exc:
        return TestRun(result, None, None, None, None, None, (), f"unreadable report: {exc}")
    total = sum(tally.values())
    return TestRun(
        result,
        tally["passed"],
        tally["failed"],
        tally["errors"],
        tally["skipped"],
        total,
        tuple(failures),
        reason,
    )


def _pytest_reason(result: RunResult) -> str | None:
    if result.timed_out:
        return f"pytest timed out after {result.isolation['timeout_seconds']} s"
    if result.signal is not None:
        return f"pytest was killed by {result.signal}" + (
            f" ({result.killed_reason} limit)" if result.killed_reason else ""
        )
    if result.exit_code in (0, 1):
        return None
    return _PYTEST_EXITS.get(result.exit_code or 0, f"pytest exited with {result.exit_code}")


def _tally(cases: Any) -> tuple[dict[str, int], list[FailedTest]]:
    tally = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0}
    failures: list[FailedTest] = []
    for case in cases:
        failure, error = case.find("failure"), case.find("error")
        problem = failure if failure is not None else error
        if problem is not None:
            kind = "failed" if failure is not None else "error"
            tally["failed" if kind == "failed" else "errors"] += 1
            if len(failures) < MAX_FAILURES:
                failures.append(FailedTest(_case_name(case), kind, _message(problem)))
        elif case.find("skipped") is not None:
            tally["skipped"] += 1
        else:
            tally["passed"] += 1
    return tally, failures


def _case_name(case: ElementTree.Element) -> str:
    classname, name = case.get("classname", ""), case.get("name", "?")
    return f"{classname}::{name}" if classname else name


def _message(problem: ElementTree.Element) -> str:
    """The first line of the message; for a collection error, the error line of the text."""
    message = (problem.get("message") or "").strip().split("\n", 1)[0]
    error_lines = [ln[1:].strip() for ln in (problem.text or "").splitlines() if ln[:1] == "E"]
    if error_lines and (not message or message == "collection failure"):
        message = f"{message}: {error_lines[-1]}" if message else error_lines[-1]
    return message[:500]
