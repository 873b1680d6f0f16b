"""Timers the scheduler acts on: backoff release, urgency re-key, lease expiry, timeout.

Entries are never removed; a timer that no longer applies (the task moved on, the token
changed) is recognised as stale when it fires. Due times are on the clock's monotonic
scale (``Clock.monotonic``), so a step of the wall clock fires nothing early or late.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from enum import IntEnum
from typing import NamedTuple


class TimerKind(IntEnum):
    RELEASE = 1
    """A retry backoff or not-before time has passed: the task becomes ready."""
    REKEY = 2
    """The task's deadline urgency steps up: re-key it in its ready queue."""
    LEASE = 3
    """A lease may have expired without a heartbeat."""
    TIMEOUT = 4
    """An attempt may have run past the task's timeout."""


class Timer(NamedTuple):
    due: float
    seq: int
    kind: TimerKind
    task_id: str
    token: int


class Timers:
    def __init__(self) -> None:
        self._heap: list[Timer] = []
        self._seq = 0

    def __len__(self) -> int:
        return len(self._heap)

    def add(self, due: float, kind: TimerKind, task_id: str, token: int = 0) -> int:
        """Arm a timer; returns its sequence number (which identifies it when it fires)."""
        self._seq += 1
        heapq.heappush(self._heap, Timer(due, self._seq, kind, task_id, token))
        return self._seq

    def next_due(self) -> float | None:
        return self._heap[0].due if self._heap else None

    def compact(self, keep: Callable[[Timer], bool]) -> int:
        """Drop timers that no longer apply; returns how many were dropped."""
        before = len(self._heap)
        self._heap = [t for t in self._heap if keep(t)]
        heapq.heapify(self._heap)
        return before - len(self._heap)

    def pop_due(self, now: float) -> list[Timer]:
        due: list[Timer] = []
        while self._heap and self._heap[0].due <= now:
            due.append(heapq.heappop(self._heap))
        return due
