"""Ready queues: one heap per queue key, highest ordering key first, FIFO among equals.

A queue key is the set of capabilities a task needs, or the agent it is pinned to. Removal
and re-keying are lazy: the old heap entry is marked dead and skipped when it surfaces.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator

from imperium.domain.models import Task

QueueKey = tuple[str | None, frozenset[str]]


def queue_key(task: Task) -> QueueKey:
    if task.pinned_agent is not None:
        return (task.pinned_agent, frozenset())
    return (None, task.required_capabilities)


class _Heap:
    __slots__ = ("entries", "live")

    def __init__(self) -> None:
        self.entries: list[list[object]] = []
        self.live = 0


class ReadyQueues:
    def __init__(self) -> None:
        self._heaps: dict[QueueKey, _Heap] = {}
        self._index: dict[str, list[object]] = {}
        self._seq = 0

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, task_id: str) -> bool:
        return task_id in self._index

    def keys(self) -> Iterator[QueueKey]:
        return (k for k, h in self._heaps.items() if h.live)

    def push(self, task: Task, key: float) -> None:
        self.remove(task.id)
        self._seq += 1
        entry: list[object] = [-key, self._seq, task]
        heap = self._heaps.setdefault(queue_key(task), _Heap())
        heapq.heappush(heap.entries, entry)
        heap.live += 1
        self._index[task.id] = entry

    def remove(self, task_id: str) -> bool:
        entry = self._index.pop(task_id, None)
        if entry is None:
            return False
        task = entry[2]
        assert isinstance(task, Task)
        entry[2] = None
        heap = self._heaps[queue_key(task)]
        heap.live -= 1
        dead = len(heap.entries) - heap.live
        if dead > 1024 and dead > heap.live:  # removed entries would otherwise pile up
            heap.entries = [e for e in heap.entries if e[2] is not None]
            heapq.heapify(heap.entries)
        return True

    def peek(self, key: QueueKey) -> tuple[tuple[float, int], Task] | None:
        """The best live task under ``key`` and its rank, or None. Ranks compare across
        queues: a higher ordering key first, then the earlier push (FIFO)."""
        heap = self._heaps.get(key)
        if heap is None:
            return None
        entries = heap.entries
        while entries and entries[0][2] is None:
            heapq.heappop(entries)
        if not entries:
            return None
        top = entries[0]
        task = top[2]
        assert isinstance(task, Task)
        neg_key, seq = top[0], top[1]
        assert isinstance(neg_key, float)
        assert isinstance(seq, int)
        return (-neg_key, -seq), task

    def pop(self, key: QueueKey) -> Task | None:
        found = self.peek(key)
        if found is None:
            return None
        task = found[1]
        self.remove(task.id)
        return task

    def tasks(self) -> Iterator[Task]:
        for entry in self._index.values():
            task = entry[2]
            assert isinstance(task, Task)
            yield task
