"""Running untrusted code in a throw-away sandbox: :func:`run_isolated` and :func:`run_pytest`.

Linux only. Each run is a fresh bubblewrap (``bwrap``) sandbox; ``RunResult.isolation``
reports what held for that run, and nothing is claimed that does not.

- **User**: never root. A root server runs bubblewrap as ``SandboxPolicy.uid`` (65534,
  "nobody", by default; same gid, no other groups), never as root (that would map the
  sandbox's user to root outside); otherwise as the server's own user. The code has no
  capabilities and ``no_new_privs`` (set-uid programs give nothing back).
- **Namespaces**: user, mount, PID, IPC, UTS, and network unless the agent's config allows
  the network: no connection leaves, not to the host's 127.0.0.1 nor to abstract Unix
  sockets; with its own ``/proc`` no host process's ``ns/net`` can be entered, nor its
  ``environ`` read.
- **Files**: only ``/usr``, ``/etc``, ``/bin``, ``/lib*`` and the server's Python
  (virtualenv and base install) are mounted, read-only; the work directory (``/sandbox``)
  is the one writable host directory, beside a private ``/tmp`` (tmpfs as large as the
  file-size limit), a ``/proc`` and a minimal ``/dev``. The database, the project,
  ``/root``, ``/home``, ``/run`` and ``/var`` (with PostgreSQL's socket) do not exist
  inside. ``"python"`` as a command's first word is the server's Python (``bwrap``
  explains how one under ``/root`` is reached).
- **Processes**: the PID namespace dies with its init, so every process the command started
  dies when it ends, times out, or the server dies (``--die-with-parent``).
- **Limits**: rlimits set by a small launcher (``launcher._LAUNCHER``) just before
  ``exec``: RLIMIT_CPU (SIGXCPU, SIGKILL a second later), RLIMIT_AS (address space:
  Python raises MemoryError), RLIMIT_FSIZE (Python gets OSError EFBIG; it also bounds
  stdout and stderr, which go to files), RLIMIT_CORE=0 and RLIMIT_NPROC, which counts the
  processes and threads of the run's own user namespace (bubblewrap's init and the
  launcher included). Each applies per process; no cgroup caps a run's total memory, CPU
  or disk. After ``timeout`` seconds bubblewrap's process group is killed.
- **Environment**: built from scratch (PATH, HOME, TMPDIR, LANG, PYTHONDONTWRITEBYTECODE),
  plus ``env``.

Where bubblewrap is missing or does not work (no unprivileged user namespaces),
:func:`probe` says why and runs raise :class:`SandboxUnavailableError`, unless
``SandboxPolicy.unsafe`` (``IMPERIUM_SANDBOX_UNSAFE=1``) allows code to run with no
isolation at all (as the server's user, with only the limits and the timeout); then
``isolation["sandbox"]`` starts with "unsafe: no isolation". The launcher reports over a
pipe that it started and how the command ended (CPU time, peak memory), which tells a
broken sandbox (:class:`SandboxError`) from a command that failed.

Modules: ``host`` (policy, probe), ``bwrap`` (its command line), ``plan`` (one run's
command, environment and report), ``limits``, ``workdir``, ``launcher``, ``runner``
(:func:`run_isolated`), ``pytest_runner`` (:func:`run_pytest`) and ``errors``; they
import only the standard library and each other.
"""

from imperium.adapters.sandbox.errors import SandboxError, SandboxUnavailableError, UnsafePathError
from imperium.adapters.sandbox.host import DEFAULT_UID, Host, SandboxPolicy, probe
from imperium.adapters.sandbox.limits import Limits
from imperium.adapters.sandbox.plan import PYTHON
from imperium.adapters.sandbox.pytest_runner import MAX_FAILURES, FailedTest, TestRun, run_pytest
from imperium.adapters.sandbox.runner import RunResult, run_isolated
from imperium.adapters.sandbox.workdir import COLLECT_CAP, OUTPUT_CAP

__all__ = [
    "COLLECT_CAP",
    "DEFAULT_UID",
    "MAX_FAILURES",
    "OUTPUT_CAP",
    "PYTHON",
    "FailedTest",
    "Host",
    "Limits",
    "RunResult",
    "SandboxError",
    "SandboxPolicy",
    "SandboxUnavailableError",
    "TestRun",
    "UnsafePathError",
    "probe",
    "run_isolated",
    "run_pytest",
]
