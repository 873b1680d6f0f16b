"""What this host can isolate, and the plan for one run: namespaces (``unshare``), the uid
the command runs as, and its minimal environment."""

from __future__ import annotations

import functools
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imperium.adapters.sandbox.limits import Limits

UID_BASE = 2_000_000_000  # sandbox uids: UID_BASE .. UID_BASE + UID_SPAN - 1
UID_SPAN = 1 << 24
_PROBE_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True)
class HostSupport:
    """What this machine allows; each ``*_problem`` is None when the measure works."""

    is_root: bool
    unshare: str | None
    net_problem: str | None
    pid_problem: str | None
    uid_problem: str | None


@dataclass(frozen=True, slots=True)
class Plan:
    """How one run is isolated, as :func:`make_plan` decided it."""

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


def make_plan(command: Sequence[str], limits: Limits, network: bool, workdir: Path) -> Plan:
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
    return Plan(flags, uid, nproc is None, isolation)


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


def _sandbox_path() -> str:
    return os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"])


def minimal_env(workdir: Path, tmpdir: Path, extra: Mapping[str, str] | None) -> dict[str, str]:
    env = {
        "PATH": _sandbox_path(),
        "HOME": str(workdir),
        "TMPDIR": str(tmpdir),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    env.update(extra or {})
    return env
