"""Running untrusted code in a throw-away sandbox: :func:`run_isolated` and :func:`run_pytest`.

Linux only. Each measure is detected at run time and ``RunResult.isolation`` reports what
was in force for that run — nothing is claimed that is not.

- **Network**: a new network namespace, ``unshare --net`` (as root) or ``unshare --net
  --map-root-user`` (otherwise; needs unprivileged user namespaces). It holds only a
  loopback device, down: no connection leaves it, not even to the host's 127.0.0.1. Without
  a working ``unshare`` the child has the host's network and the report says why.
- **Processes**: a new PID namespace (``unshare --pid --fork --kill-child``) whose init is
  a small launcher (``launcher._LAUNCHER``). When the command ends or the run is killed, the kernel
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

Modules: ``isolation`` (what the host allows; namespaces, uid and environment of a run),
``limits``, ``workdir`` (the run's directory and output), ``launcher`` (the child process),
``runner`` (:func:`run_isolated`, :class:`RunResult`), ``pytest_runner`` (:func:`run_pytest`,
:class:`TestRun`) and ``errors``. They import only the standard library and each other.
Import the names below from this package; to replace :func:`host_support` (in a test),
patch it in ``isolation``, where it is called.
"""

from imperium.adapters.sandbox.errors import SandboxError, UnsafePathError
from imperium.adapters.sandbox.isolation import (
    UID_BASE,
    UID_SPAN,
    HostSupport,
    host_support,
    isolation_available,
)
from imperium.adapters.sandbox.limits import Limits
from imperium.adapters.sandbox.pytest_runner import MAX_FAILURES, FailedTest, TestRun, run_pytest
from imperium.adapters.sandbox.runner import RunResult, run_isolated
from imperium.adapters.sandbox.workdir import COLLECT_CAP, OUTPUT_CAP

__all__ = [
    "COLLECT_CAP",
    "MAX_FAILURES",
    "OUTPUT_CAP",
    "UID_BASE",
    "UID_SPAN",
    "FailedTest",
    "HostSupport",
    "Limits",
    "RunResult",
    "SandboxError",
    "TestRun",
    "UnsafePathError",
    "host_support",
    "isolation_available",
    "run_isolated",
    "run_pytest",
]
