"""The overview chart's series: attempts finished per bucket, counted by the database, with
the buckets that have ended kept in memory, so that a chart refreshed every few seconds asks
the database only for its newest buckets instead of a week of attempts each time.

A bucket is kept once it ended ``SETTLED`` seconds ago (an attempt is recorded when it
ends, stamped with that time; one committed late, after a database outage, can land in a
bucket a little in the past). Kept buckets are forgotten after ``KEEP`` seconds, which
bounds how stale an old bucket can be, and when the chart's range moves past them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from imperium.domain.states import Outcome
from imperium.ports import OutcomeCount

SETTLED = 60.0
KEEP = 600.0

Counts = dict[Outcome, int]
Fetch = Callable[[float, float], Awaitable[list[OutcomeCount]]]  # (since, bucket seconds)


@dataclass
class _Kept:
    since: float  # when the entry was filled (wall clock)
    buckets: dict[float, Counts] = field(default_factory=dict)  # bucket start -> counts
    through: float = 0.0  # every bucket starting before this is in ``buckets``


class SeriesCache:
    """Counts per outcome for each bucket of a range; one entry per bucket size."""

    def __init__(self, settled: float = SETTLED, keep: float = KEEP) -> None:
        self._settled = settled
        self._keep = keep
        self._kept: dict[float, _Kept] = {}

    async def counts(
        self, fetch: Fetch, first: float, bucket: float, buckets: int, now: float
    ) -> list[Counts]:
        """Counts for the ``buckets + 1`` buckets starting at ``first`` (the last one is
        the bucket under way)."""
        kept = self._kept.get(bucket)
        if kept is None or now - kept.since >= self._keep or kept.through < first:
            kept = self._kept[bucket] = _Kept(since=now, through=first)
        fresh: dict[float, Counts] = {}
        for point in await fetch(kept.through, bucket):
            start = round((point.start - first) / bucket) * bucket + first
            fresh.setdefault(start, {})[point.outcome] = point.count
        starts = [first + i * bucket for i in range(buckets + 1)]
        settled = [s for s in starts if s >= kept.through and s + bucket <= now - self._settled]
        for start in settled:
            kept.buckets[start] = fresh.get(start, {})
        if settled:
            kept.through = settled[-1] + bucket
        for start in [s for s in kept.buckets if s < first]:
            del kept.buckets[start]
        return [kept.buckets.get(s) or fresh.get(s, {}) for s in starts]
