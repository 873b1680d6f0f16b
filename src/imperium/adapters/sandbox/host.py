"""What isolates code on this host, found by trying it (:func:`probe`), and what the
operator allows (:class:`SandboxPolicy`).

The probe starts the server's Python under bubblewrap exactly as a run would (as the uid
runs use): some tens of milliseconds. What works is remembered for the life of the
process; a failure is not (installing bubblewrap needs no restart).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from imperium.adapters.sandbox.bwrap import SYSTEM_DIRS, sandbox_command
from imperium.adapters.sandbox.errors import SandboxUnavailableError

log = logging.getLogger(__name__)

DEFAULT_UID = 65534  # nobody and nogroup
_PROBE_TIMEOUT = 60.0  # a loaded machine may be slow to start Python; a broken one fails fast
_HINT = (
    "install bubblewrap 0.8 or newer (Debian, Ubuntu: apt-get install bubblewrap) where "
    "unprivileged user namespaces are allowed, or set IMPERIUM_SANDBOX_UNSAFE=1 to run "
    "code with no isolation at all"
)


@dataclass(frozen=True, slots=True)
class SandboxPolicy:
    """What the operator allows: the bubblewrap to use, the uid (and gid) code runs as
    when the server runs as root, and whether code may run with no isolation where the
    sandbox cannot be had (``unsafe``) instead of being refused."""

    bwrap: str = "bwrap"
    uid: int = DEFAULT_UID
    unsafe: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.uid, bool) or not isinstance(self.uid, int) or self.uid <= 0:
            raise ValueError(f"the sandbox uid must be positive (not root), not {self.uid!r}")


@dataclass(frozen=True, slots=True)
class Host:
    """How runs are isolated here. ``bwrap`` None: not at all (unsafe), ``problem`` says
    why. ``python_dirs``: the server's Python's directories, mounted read-only at their
    own paths (those under :data:`SYSTEM_DIRS` are mounted anyway)."""

    bwrap: str | None
    run_as: int | None  # the uid and gid code runs as when the server is root, else None
    python_dirs: tuple[str, ...] = ()
    problem: str | None = None


_working: dict[SandboxPolicy, Host] = {}


def probe(policy: SandboxPolicy) -> Host:
    """How to isolate runs under ``policy``; raises SandboxUnavailableError when nothing
    isolates them and ``policy.unsafe`` is off."""
    known = _working.get(policy)
    if known is not None:
        return known
    bwrap = shutil.which(policy.bwrap)
    if not sys.platform.startswith("linux"):
        problem = f"bubblewrap needs Linux, this is {sys.platform}"
    elif bwrap is None:
        problem = f"bubblewrap ({policy.bwrap}) is not installed"
    else:
        host = Host(bwrap, policy.uid if os.geteuid() == 0 else None, _python_dirs())
        failure = _try(bwrap, host)
        if failure is None:
            _working[policy] = host
            return host
        problem = f"{bwrap} does not work here: {failure}"
    if not policy.unsafe:
        raise SandboxUnavailableError(f"the Sandbox cannot isolate code here ({problem}); {_HINT}")
    log.warning("running sandboxed code with no isolation", extra={"problem": problem})
    return Host(None, None, (), problem)


def _python_dirs() -> tuple[str, ...]:
    """The virtualenv and the Python it was made from (pyenv puts that under /root)."""
    prefixes = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix]
    prefixes = [os.path.normpath(p) for p in prefixes]
    return tuple(p for p in dict.fromkeys(prefixes) if _needs_mount(p))


def _needs_mount(path: str) -> bool:
    return path != "/" and not any(path == top or path.startswith(top + "/") for top in SYSTEM_DIRS)


def _try(bwrap: str, host: Host) -> str | None:
    """None if the server's Python starts in the sandbox, else why not."""
    with tempfile.TemporaryDirectory(prefix="imperium-sandbox-probe-") as staging:
        os.chmod(staging, 0o711)
        command = sandbox_command(
            bwrap, host.python_dirs, host.run_as, Path(staging), network=False,
            tmp_bytes=1 << 20, workdir=None,
        )  # fmt: skip
        try:
            done = subprocess.run(
                [*command, sys.executable, "-c", "pass"], capture_output=True, text=True,
                timeout=_PROBE_TIMEOUT, env={"PATH": "/usr/bin:/bin"}, cwd="/",
            )  # fmt: skip
        except (OSError, subprocess.SubprocessError) as exc:
            return str(exc)
    if done.returncode == 0:
        return None
    return (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
