"""The chart's series cache: ended buckets are asked for once, the newest every time, and
everything again after a while; the counts are those the database gives."""

from __future__ import annotations

from imperium.domain.states import Outcome
from imperium.interfaces.dashboard.series import SeriesCache
from imperium.ports import OutcomeCount

BUCKET = 60.0
FIRST = 1_800_000_000.0  # a multiple of the bucket


class Database:
    """Attempts as (finished_at, outcome); answers like StatisticsStore.outcome_series."""

    def __init__(self) -> None:
        self.attempts: list[tuple[float, Outcome]] = []
        self.asked: list[float] = []

    async def outcome_series(self, since: float, bucket: float) -> list[OutcomeCount]:
        self.asked.append(since)
        counts: dict[tuple[float, Outcome], int] = {}
        for at, outcome in self.attempts:
            if at >= since:
                key = (at // bucket * bucket, outcome)
                counts[key] = counts.get(key, 0) + 1
        return [OutcomeCount(start, outcome, n) for (start, outcome), n in counts.items()]


def succeeded(counts: list[dict[Outcome, int]]) -> list[int]:
    return [c.get(Outcome.SUCCEEDED, 0) for c in counts]


async def test_ended_buckets_are_read_once_and_the_newest_every_time() -> None:
    db = Database()
    db.attempts = [(FIRST + 5, Outcome.SUCCEEDED), (FIRST + 65, Outcome.SUCCEEDED),
                   (FIRST + 70, Outcome.FAILED), (FIRST + 185, Outcome.SUCCEEDED)]  # fmt: skip
    cache = SeriesCache(settled=10.0, keep=600.0)
    now = FIRST + 190  # buckets 0-2 ended more than 10 s ago, bucket 3 is under way

    counts = await cache.counts(db.outcome_series, FIRST, BUCKET, 3, now)
    assert succeeded(counts) == [1, 1, 0, 1]
    assert counts[1][Outcome.FAILED] == 1
    assert db.asked == [FIRST]

    db.attempts.append((FIRST + 195, Outcome.SUCCEEDED))  # the bucket under way grows
    again = await cache.counts(db.outcome_series, FIRST, BUCKET, 3, now + 6)
    assert succeeded(again) == [1, 1, 0, 2]
    assert db.asked == [FIRST, FIRST + 3 * BUCKET]  # only the bucket not yet ended


async def test_a_bucket_is_kept_only_once_it_has_settled() -> None:
    db = Database()
    cache = SeriesCache(settled=30.0, keep=600.0)
    await cache.counts(db.outcome_series, FIRST, BUCKET, 2, FIRST + 70)  # bucket 0 ended 10 s ago
    db.attempts.append((FIRST + 50, Outcome.SUCCEEDED))  # recorded late, in bucket 0
    counts = await cache.counts(db.outcome_series, FIRST, BUCKET, 2, FIRST + 100)
    assert succeeded(counts) == [1, 0, 0]
    assert db.asked == [FIRST, FIRST]


async def test_everything_is_read_again_after_keep_seconds() -> None:
    db = Database()
    cache = SeriesCache(settled=10.0, keep=100.0)
    await cache.counts(db.outcome_series, FIRST, BUCKET, 3, FIRST + 200)
    db.attempts.append((FIRST + 5, Outcome.SUCCEEDED))  # committed very late
    stale = await cache.counts(db.outcome_series, FIRST, BUCKET, 3, FIRST + 250)
    assert succeeded(stale) == [0, 0, 0, 0]
    fresh = await cache.counts(db.outcome_series, FIRST, BUCKET, 3, FIRST + 301)
    assert succeeded(fresh) == [1, 0, 0, 0]
    assert db.asked[-1] == FIRST


async def test_a_range_that_moved_on_drops_its_old_buckets() -> None:
    db = Database()
    db.attempts = [(FIRST + 5, Outcome.SUCCEEDED), (FIRST + 125, Outcome.SUCCEEDED)]
    cache = SeriesCache(settled=1.0, keep=600.0)
    await cache.counts(db.outcome_series, FIRST, BUCKET, 2, FIRST + 179)
    later = await cache.counts(db.outcome_series, FIRST + BUCKET, BUCKET, 2, FIRST + 239)
    assert succeeded(later) == [0, 1, 0]
    assert db.asked == [FIRST, FIRST + 2 * BUCKET]
