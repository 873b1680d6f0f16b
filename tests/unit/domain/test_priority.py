"""The priority score: bounds, monotonicity, the heap key, urgency steps and ageing."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from imperium.domain.priority import (
    LEVEL_POINTS,
    PriorityFeatures,
    level_for_score,
    next_urgency_change,
    ordering_key,
    priority_score,
    raw_score,
    score_and_key,
    urgency_points,
)
from imperium.domain.states import PriorityLevel

CRITICAL = PriorityLevel.CRITICAL
LEVELS_ASCENDING = [
    PriorityLevel.BACKGROUND,
    PriorityLevel.LOW,
    PriorityLevel.NORMAL,
    PriorityLevel.HIGH,
    CRITICAL,
]
# Largest possible lead from everything but age: level 90, dependents 5, duration 5,
# resources 5, urgency 20 (module docstring).
MAX_NON_AGE_GAP = 125.0

any_float = st.floats()  # nan, +-inf, huge and negative values included
clock = st.floats(min_value=0.0, max_value=4e9)  # epoch seconds, as the Clock port gives


def features(times: st.SearchStrategy[float] = any_float) -> st.SearchStrategy[PriorityFeatures]:
    return st.builds(
        PriorityFeatures,
        level=st.sampled_from(PriorityLevel),
        created_at=times,
        deadline=st.none() | times,
        dependents=st.integers(),
        estimated_duration=st.none() | any_float,
        cpu=any_float,
        gpu=any_float,
        memory_mb=any_float,
    )


def next_change_or_inf(deadline: float | None, now: float) -> float:
    change = next_urgency_change(deadline, now)
    return float("inf") if change is None else change


@given(features(), any_float)
@example(PriorityFeatures(CRITICAL, -1e308, -1e308, 10**9, 0.0), 1e308)
@example(PriorityFeatures(PriorityLevel.BACKGROUND, 5.0, None, -7, 1e300, 1e9, 1e9), -1e308)
def test_score_is_always_between_0_and_100(f: PriorityFeatures, now: float) -> None:
    assert 0.0 <= priority_score(f, now) <= 100.0


@given(features(), any_float)
def test_score_never_drops_when_the_level_rises(f: PriorityFeatures, now: float) -> None:
    scores = [priority_score(f._replace(level=level), now) for level in LEVELS_ASCENDING]
    assert scores == sorted(scores)


@given(features(clock), clock)
def test_raw_score_rises_with_every_level_step(f: PriorityFeatures, now: float) -> None:
    raws = [raw_score(f._replace(level=level), now) for level in LEVELS_ASCENDING]
    assert all(lower < higher for lower, higher in pairwise(raws))


@given(features(), st.floats(allow_nan=False), st.floats(allow_nan=False), any_float)
def test_a_closer_deadline_never_scores_lower(
    f: PriorityFeatures, one: float, other: float, now: float
) -> None:
    closer, later = sorted((one, other))
    for score in (priority_score, raw_score):
        with_closer = score(f._replace(deadline=closer), now)
        with_later = score(f._replace(deadline=later), now)
        assert with_closer >= with_later >= score(f._replace(deadline=None), now)


@pytest.mark.parametrize(
    ("seconds_left", "points"),
    [
        (-3600.0, 20.0),
        (0.0, 20.0),
        (0.5, 16.0),
        (60.0, 16.0),
        (61.0, 12.0),
        (300.0, 12.0),
        (900.0, 9.0),
        (901.0, 6.0),
        (3600.0, 6.0),
        (4 * 3600.0, 3.0),
        (24 * 3600.0, 1.0),
        (24 * 3600.0 + 1, 0.0),
    ],
)
def test_urgency_steps(seconds_left: float, points: float) -> None:
    assert urgency_points(10_000.0 + seconds_left, 10_000.0) == points
    assert urgency_points(None, 10_000.0) == 0.0


@pytest.mark.parametrize(
    ("f", "now", "expected"),
    [
        # normal 40 + unknown duration 2 + no resources 5
        (PriorityFeatures(PriorityLevel.NORMAL, created_at=0.0), 0.0, 47.0),
        # + 10 minutes of age, + 3 dependents, <=1 s duration 5, cpu 4 costs 1 point
        (PriorityFeatures(PriorityLevel.NORMAL, 0.0, None, 3, 0.5, cpu=4.0), 600.0, 62.0),
        # dependents count at most 5; gpu 1 and 8 GiB cost 3 points; >1 h duration is 0
        (PriorityFeatures(PriorityLevel.LOW, 0.0, None, 50, 7200.0, 0.0, 1.0, 8192.0), 0.0, 27.0),
        # overdue 20
        (PriorityFeatures(PriorityLevel.HIGH, 100.0, deadline=50.0), 100.0, 97.0),
    ],
)
def test_documented_weights(f: PriorityFeatures, now: float, expected: float) -> None:
    assert raw_score(f, now) == pytest.approx(expected)


@given(features(clock), features(clock), clock, clock, st.floats(0.0, 1.0, exclude_max=True))
def test_ordering_key_ranks_like_raw_score_until_an_urgency_step(
    a: PriorityFeatures, b: PriorityFeatures, keyed_a_at: float, keyed_b_at: float, share: float
) -> None:
    # Each task is keyed at its own time; both are compared later, before either key is stale.
    start = max(keyed_a_at, keyed_b_at, a.created_at, b.created_at)
    end = min(
        next_change_or_inf(a.deadline, keyed_a_at), next_change_or_inf(b.deadline, keyed_b_at)
    )
    now = start + share * (min(end, start + 1e6) - start)
    assume(start <= now < end)
    key_gap = ordering_key(a, keyed_a_at) - ordering_key(b, keyed_b_at)
    raw_gap = raw_score(a, now) - raw_score(b, now)
    # Equal gaps mean equal ranking; the tolerance only absorbs float rounding of ties.
    assert key_gap == pytest.approx(raw_gap, abs=1e-6)


@given(st.none() | clock, clock)
def test_next_urgency_change_is_when_urgency_next_changes(
    deadline: float | None, now: float
) -> None:
    current = urgency_points(deadline, now)
    change = next_urgency_change(deadline, now)
    if change is None:  # no deadline, or already overdue: urgency stays as it is
        assert deadline is None or current == 20.0
        assert urgency_points(deadline, now + 1e9) == current
        return
    assert change > now
    for before in (now, (now + change) / 2, max(now, change - 1e-3)):
        assert urgency_points(deadline, before) == current
    assert urgency_points(deadline, change) > current
    assert urgency_points(deadline, change + 1e-3) == urgency_points(deadline, change)


@pytest.mark.parametrize(
    ("score", "level"),
    [
        (100.0, PriorityLevel.CRITICAL),
        (90.0, PriorityLevel.CRITICAL),
        (89.99, PriorityLevel.HIGH),
        (70.0, PriorityLevel.HIGH),
        (69.99, PriorityLevel.NORMAL),
        (40.0, PriorityLevel.NORMAL),
        (39.99, PriorityLevel.LOW),
        (20.0, PriorityLevel.LOW),
        (19.99, PriorityLevel.BACKGROUND),
        (0.0, PriorityLevel.BACKGROUND),
    ],
)
def test_level_for_score(score: float, level: PriorityLevel) -> None:
    assert level_for_score(score) is level


@pytest.mark.parametrize("level", LEVELS_ASCENDING[:-1])
def test_a_waiting_task_gains_one_point_per_minute_on_a_new_critical_one(
    level: PriorityLevel,
) -> None:
    catch_up = (LEVEL_POINTS[CRITICAL] - LEVEL_POINTS[level]) * 60.0  # seconds
    old = PriorityFeatures(level, created_at=0.0)

    def gap(now: float) -> float:
        return raw_score(old, now) - raw_score(PriorityFeatures(CRITICAL, created_at=now), now)

    assert gap(catch_up - 60.0) == pytest.approx(-1.0)
    assert gap(catch_up) == pytest.approx(0.0)
    assert gap(catch_up + 60.0) == pytest.approx(1.0)


@given(features(clock), features(clock), st.floats(1.0, 1e6), st.floats(0.0, 1e6))
def test_a_task_waiting_125_minutes_longer_outranks_any_newer_one(
    old: PriorityFeatures, new: PriorityFeatures, extra_wait: float, since_new: float
) -> None:
    old = old._replace(created_at=new.created_at - MAX_NON_AGE_GAP * 60.0 - extra_wait)
    now = new.created_at + since_new
    assert raw_score(old, now) > raw_score(new, now)
    assert ordering_key(old, now) > ordering_key(new, now)


@given(f=features(clock), now=clock)
def test_score_and_key_agree_with_the_separate_functions(f: PriorityFeatures, now: float) -> None:
    f = f._replace(cpu=abs(f.cpu) % 64, gpu=abs(f.gpu) % 8, memory_mb=abs(f.memory_mb) % 1e6)
    score, key = score_and_key(f, now)
    assert score == pytest.approx(priority_score(f, now), abs=1e-9)
    assert key == pytest.approx(ordering_key(f, now), rel=1e-12, abs=1e-9)
