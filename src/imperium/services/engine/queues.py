"""Ready queues: one heap per queue key, highest ordering key first, FIFO among equals.

A queue key is the set of capabilities a task needs, or the agent it is pinned to; a task
whose type requires a custody level waits in a queue of its own (the key names the type),
so while only unqualified agents are free it does not hold back the ungated tasks behind
it. Removal and re-keying are lazy: the old heap entry is marked dead and skipped when it
surfaces.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Iterator

from imperium.domain.models import Task

QueueKey = tuple[str | None, frozenset[str], str | None]  # pinned, capabilities, gated type


def queue_key(task: Task, gated: Collection[str] = ()) -> QueueKey:
    """The task's queue; ``gated`` are the task types that require a custody level (a
    pinned task is its agent's, whatever its type)."""
    if task.pinned_agent is not None:
        return (task.pinned_agent, frozenset(), None)
    return (None, task.required_capabilities, task.type if task.type in gated else None)


class _Heap:
    __slots__ = ("entries", "live")

    def __init__(self) -> None:
        self.entries: list[list[object]] = []
        self.live = 0


class ReadyQueues:
    def __init__(self, gated: Collection[str] = ()) -> None:
        self._heaps: dict[QueueKey, _Heap] = {}
        self._index: dict[str, list[object]] = {}
        self._seq = 0
        self._gated = frozenset(gated)

    def regate(self, gated: Collection[str]) -> None:
        """Change which task types queue apart; queued tasks move, keeping their order."""
        self._gated = frozenset(gated)
        entries = list(self._index.values())
        self._heaps = {}
        for entry in entries:
            task = entry[2]
            assert isinstance(task, Task)
            heap = self._heaps.setdefault(queue_key(task, self._gated), _Heap())
            heapq.heappush(heap.entries, entry)
            heap.live += 1

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
        heap = self._heaps.setdefault(queue_key(task, self._gated), _Heap())
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
        heap = self._heaps[queue_key(task, self._gated)]
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
