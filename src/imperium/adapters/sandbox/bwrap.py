"""The command line that starts bubblewrap: the namespaces and the mounts of one run, and,
when the server is root, the step that drops to the sandbox's uid first.

Nothing of the host is visible but :data:`SYSTEM_DIRS` and the interpreter's directories,
read-only; the work directory is the one writable mount (with a private ``/tmp``).

bubblewrap opens what it mounts as the uid it runs as, and a Python installed under
``/root`` (pyenv) is not reachable by uid 65534. So a root server starts
``_UNPRIVILEGE`` instead, which, in a mount namespace of its own (private: nothing leaks
to the host's), bind-mounts those directories onto staging directories the uid can
reach, then becomes that uid (no groups) and runs bubblewrap, which mounts them back at
their own paths inside the sandbox. Nothing is changed on the host.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

# Mounted read-only into every sandbox; an interpreter under one of them needs no more.
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
INSIDE = "/sandbox"  # where the work directory is mounted in the sandbox
# and net unless the network is allowed; also a cgroup namespace where the kernel allows
# it (not claimed)
NAMESPACES = ("user", "mount", "pid", "ipc", "uts")

# python -I -S -c _UNPRIVILEGE CONFIG BWRAP ARGS..., run as root
_UNPRIVILEGE = r"""
import ctypes, json, os, sys
config = json.loads(sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = (ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                       ctypes.c_void_p)
def check(result, what):
    if result != 0:
        error = ctypes.get_errno()
        sys.exit(f"sandbox: cannot {what}: {os.strerror(error)}")
CLONE_NEWNS, MS_BIND, MS_REC, MS_PRIVATE = 0x20000, 4096, 16384, 1 << 18
check(libc.unshare(CLONE_NEWNS), "make a mount namespace")
check(libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "make its mounts private")
for source, staging in config["binds"]:
    check(libc.mount(source.encode(), staging.encode(), None, MS_BIND | MS_REC, None),
          f"bind-mount {source}")
os.setgroups([])
os.setgid(config["uid"])
os.setuid(config["uid"])
os.execv(sys.argv[2], sys.argv[2:])
"""


def _system_mounts() -> list[str]:
    args: list[str] = []
    for path in SYSTEM_DIRS:
        if os.path.islink(path):  # /bin -> usr/bin on merged-/usr systems
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    return args


def bwrap_command(
    bwrap: str,
    binds: Sequence[tuple[str, str]],
    *,
    network: bool,
    tmp_bytes: int,
    workdir: Path | None,
) -> list[str]:
    """``bwrap ... --``: the command to run follows. ``binds`` are (host source, path
    inside) pairs mounted read-only; ``workdir`` None (the probe): nothing writable but
    ``/tmp``."""
    args = [bwrap, "--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-uts"]
    args += ["--unshare-cgroup-try"] + ([] if network else ["--unshare-net"])
    # no nested user namespaces (less kernel surface); killed if the server dies; no
    # controlling terminal to push input into (TIOCSTI)
    args += ["--disable-userns", "--die-with-parent", "--new-session", *_system_mounts()]
    args += ["--dev", "/dev", "--proc", "/proc", "--size", str(tmp_bytes), "--tmpfs", "/tmp"]
    # after the private /tmp: an interpreter (a virtualenv, say) under /tmp stays visible
    for source, inside in binds:
        args += ["--ro-bind", source, inside]
    if workdir is None:
        args += ["--chdir", "/"]
    else:
        args += ["--bind", str(workdir), INSIDE, "--chdir", INSIDE]
    return [*args, "--"]


def sandbox_command(
    bwrap: str,
    binds: Sequence[str],
    run_as: int | None,
    staging: Path,
    *,
    network: bool,
    tmp_bytes: int,
    workdir: Path | None,
) -> list[str]:
    """What starts the sandbox: bubblewrap itself, or (``run_as`` set: the server is root)
    ``_UNPRIVILEGE`` with ``binds`` staged in ``staging``, which the uid must be able to
    pass through."""
    if run_as is None:
        pairs = [(path, path) for path in binds]
        return bwrap_command(bwrap, pairs, network=network, tmp_bytes=tmp_bytes, workdir=workdir)
    staged = [(path, str(staging / f"mount{i}")) for i, path in enumerate(binds)]
    for _path, stage in staged:
        os.mkdir(stage, 0o755)
    config = json.dumps({"uid": run_as, "binds": staged})
    pairs = [(stage, path) for path, stage in staged]
    sandbox = bwrap_command(bwrap, pairs, network=network, tmp_bytes=tmp_bytes, workdir=workdir)
    return [sys.executable, "-I", "-S", "-c", _UNPRIVILEGE, config, *sandbox]
