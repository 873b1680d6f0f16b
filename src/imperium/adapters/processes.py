"""Whether a process on this machine is gone: the scheduler lock's and a learning cycle's
holder is taken over at once when its process no longer runs.

A process that has exited but was not yet reaped by its parent (a zombie) still answers
``os.kill(pid, 0)``, yet it will never renew a lock or finish a cycle; so the state letter
in ``/proc/<pid>/stat`` decides where there is a ``/proc`` (``Z`` zombie, ``X``/``x``
dead), and ``os.kill(pid, 0)`` where there is none.
"""

from __future__ import annotations

import os
from pathlib import Path

PROC = Path("/proc")
GONE_STATES = frozenset({"Z", "X", "x"})


def process_is_gone(pid: int, proc: Path = PROC) -> bool:
    """True when no running process has ``pid`` (none at all, a zombie, or dead)."""
    state = process_state(pid, proc)
    if state is not None:
        return state in GONE_STATES
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # it exists, under another user
        return False
    return False


def process_state(pid: int, proc: Path = PROC) -> str | None:
    """The state letter of ``pid`` in ``/proc/<pid>/stat``, or None when /proc cannot say
    (no /proc on this system, or no such process)."""
    try:
        stat = (proc / str(pid) / "stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    # "pid (command name) S ...": the name may hold spaces and parentheses, so the state
    # is the first field after the last ")"
    fields = stat.rpartition(")")[2].split()
    return fields[0] if fields else None
