"""Retry backoff: exponential growth, the cap, jitter bounds and the retry decision."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imperium.domain.retry import RetryPolicy, should_retry

NO_JITTER = RetryPolicy(base=1.0, factor=2.0, cap=300.0, jitter=0.0)
JITTERED = RetryPolicy(base=10.0, factor=3.0, cap=1000.0, jitter=0.2)
ALMOST_ONE = 1.0 - 1e-12

policies = st.builds(
    RetryPolicy,
    base=st.floats(0.0, 1e6),
    factor=st.floats(0.0, 100.0),
    cap=st.floats(0.0, 1e6),
    jitter=st.floats(0.0, 1.0),
)
attempts = st.integers(1, 10**6)
unit_randoms = st.floats(0.0, 1.0, exclude_max=True)


@pytest.mark.parametrize(
    ("attempt", "expected"),
    [(1, 1.0), (2, 2.0), (3, 4.0), (5, 16.0), (9, 256.0), (10, 300.0), (65, 300.0), (10**9, 300.0)],
)
def test_delay_doubles_until_the_cap(attempt: int, expected: float) -> None:
    assert NO_JITTER.delay(attempt, 0.5) == expected


@pytest.mark.parametrize(
    ("attempt", "unit_random", "expected"),
    [
        (1, 0.0, 8.0),  # nominal 10, -20 %
        (1, 0.5, 10.0),
        (1, ALMOST_ONE, 12.0),  # +20 %
        (3, 0.0, 72.0),  # nominal 90
        (3, 0.5, 90.0),
        (3, ALMOST_ONE, 108.0),
        (7, 0.0, 800.0),  # nominal 7290 capped to 1000; jitter never lifts it above the cap
        (7, 0.5, 1000.0),
        (7, ALMOST_ONE, 1000.0),
    ],
)
def test_jitter_spreads_the_delay(attempt: int, unit_random: float, expected: float) -> None:
    assert JITTERED.delay(attempt, unit_random) == pytest.approx(expected)


@pytest.mark.parametrize("attempt", [0, -1, -100])
def test_attempts_count_from_one(attempt: int) -> None:
    with pytest.raises(ValueError, match="attempt"):
        JITTERED.delay(attempt, 0.5)


@given(policies, attempts, unit_randoms)
def test_delay_is_never_negative_nor_above_the_cap(
    policy: RetryPolicy, attempt: int, unit_random: float
) -> None:
    assert 0.0 <= policy.delay(attempt, unit_random) <= policy.cap


@given(policies, attempts, unit_randoms)
def test_delay_stays_within_jitter_of_the_nominal_delay(
    policy: RetryPolicy, attempt: int, unit_random: float
) -> None:
    nominal = RetryPolicy(policy.base, policy.factor, policy.cap, jitter=0.0).delay(attempt, 0.5)
    delay = policy.delay(attempt, unit_random)
    assert delay >= nominal * (1.0 - policy.jitter) * (1 - 1e-9)
    assert delay <= min(policy.cap, nominal * (1.0 + policy.jitter) * (1 + 1e-9))


@given(policies.filter(lambda p: p.factor >= 1.0), attempts, unit_randoms)
def test_delay_never_shrinks_from_one_attempt_to_the_next(
    policy: RetryPolicy, attempt: int, unit_random: float
) -> None:
    assert policy.delay(attempt + 1, unit_random) >= policy.delay(attempt, unit_random)


@pytest.mark.parametrize(
    ("attempts_made", "max_attempts", "retryable", "expected"),
    [
        (0, 3, True, True),
        (2, 3, True, True),
        (3, 3, True, False),
        (4, 3, True, False),
        (1, 3, False, False),
        (0, 1, True, True),
        (1, 1, True, False),
        (0, 0, True, False),
    ],
)
def test_should_retry(
    attempts_made: int, max_attempts: int, retryable: bool, expected: bool
) -> None:
    assert should_retry(attempts_made, max_attempts, retryable) is expected
