"""How one run is started (:class:`Plan`): the command line that starts the sandbox, the
environment built from scratch, and ``isolation``, the report of what holds for the run."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imperium.adapters.sandbox.bwrap import INSIDE, NAMESPACES, SYSTEM_DIRS, sandbox_command
from imperium.adapters.sandbox.host import Host
from imperium.adapters.sandbox.limits import Limits

PYTHON = "python"  # a command's first word that means the sandbox's Python: the server's


@dataclass(frozen=True, slots=True)
class Plan:
    """What :func:`make_plan` decided for one run."""

    prefix: list[str]  # what starts the sandbox, before the launcher; empty when unsafe
    cwd: Path  # where the process starts (bubblewrap then changes to the work directory)
    env: dict[str, str]
    nproc: bool  # whether RLIMIT_NPROC is set
    isolation: dict[str, Any]
    python: str = sys.executable  # runs the launcher, and stands for PYTHON


def make_plan(
    host: Host, limits: Limits, network: bool, base: Path, extra_env: Mapping[str, str] | None
) -> Plan:
    """The plan for a run whose work directory is ``base / "work"`` (``base`` also holds
    the staging directories of a root server's mounts)."""
    if host.bwrap is None:
        env = _env(str(base / "work"), str(base / "tmp"), extra_env)
        return Plan([], base / "work", env, False, _unsafe(host, limits, env))
    prefix = sandbox_command(
        host.bwrap, host.python_dirs, host.run_as, base, network=network,
        tmp_bytes=int(limits.file_size_mb * 2**20), workdir=base / "work",
    )  # fmt: skip
    env = _env(INSIDE, "/tmp", extra_env)
    user = f"uid {host.run_as}, gid {host.run_as}, no other groups" if host.run_as else (
        f"uid {os.getuid()}, the server's own"
    )  # fmt: skip
    isolation = {
        "sandbox": "bubblewrap",
        "user": f"{user} (not root); no_new_privs",
        "namespaces": [*NAMESPACES, *([] if network else ["net"])],
        "network": "host network (allowed by the agent's config)"
        if network
        else "none (own network namespace: only its own loopback)",
        "filesystem": "only the paths below are mounted; nothing else of the host is visible",
        "read_only": [*(p for p in SYSTEM_DIRS if os.path.exists(p)), *host.python_dirs],
        "writable": [f"{INSIDE} (the work directory)", f"/tmp (private, {limits.file_size_mb} MB)"],
        "processes": "own PID namespace: all are killed when the run ends",
        **_limits(limits, limits.max_processes, env),
    }
    return Plan(prefix, Path("/"), env, True, isolation)


def _unsafe(host: Host, limits: Limits, env: dict[str, str]) -> dict[str, Any]:
    uid = os.geteuid()
    processes = "root" if uid == 0 else f"it would count every process of uid {uid}"
    return {
        "sandbox": f"unsafe: no isolation (IMPERIUM_SANDBOX_UNSAFE=1; {host.problem})",
        "user": f"uid {uid}, the server's"
        + (" (root: every file of the host is readable and writable)" if uid == 0 else ""),
        "namespaces": [],
        "network": "host network (no isolation)",
        "filesystem": "the host's, with the server's permissions",
        "processes": "process group only: a process that leaves it survives the run",
        **_limits(limits, f"not enforced: {processes}", env),
    }


def _limits(limits: Limits, processes: int | str, env: dict[str, str]) -> dict[str, Any]:
    rlimits = {
        "cpu_seconds": limits.cpu_seconds,
        "memory_mb": limits.memory_mb,  # of address space, per process
        "file_size_mb": limits.file_size_mb,
        "core_dumps": "disabled",
        "max_processes": processes,
    }
    return {
        "rlimits": rlimits,
        "timeout_seconds": limits.timeout,
        "workdir": "fresh temporary directory",
        "environment": "built from scratch: " + ", ".join(sorted(env)),
    }


def _env(home: str, tmp: str, extra: Mapping[str, str] | None) -> dict[str, str]:
    path = [os.path.dirname(sys.executable), "/usr/local/bin", "/usr/bin", "/bin"]
    env = {
        "PATH": os.pathsep.join(dict.fromkeys(path)),
        "HOME": home,
        "TMPDIR": tmp,
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    return env | dict(extra or {})
