"""The custody protocol's rules, as SEED-API.md states them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imperium.domain.custody import (
    TIME_LIMITS,
    CustodyRecord,
    Difficulty,
    can_create_proposals,
    can_level_up,
    difficulty_for,
    eligibility_reason,
    level_for_xp,
    proposal_requirement,
    record_result,
    replay,
)


@pytest.mark.parametrize(
    ("level", "tier"),
    [(1, "basic"), (9, "basic"), (10, "intermediate"), (19, "intermediate"), (20, "advanced"),
     (30, "expert"), (40, "master"), (49, "master"), (50, "legendary"), (99, "legendary")],
)  # fmt: skip
def test_difficulty_from_level(level: int, tier: str) -> None:
    assert difficulty_for(level) == tier


def test_time_limits_per_tier() -> None:
    assert [TIME_LIMITS[t] for t in Difficulty] == [300, 600, 900, 1200, 1800, 3600]


def test_xp_and_the_level_is_applied_after_three_consecutive_passes() -> None:
    r = record_result(CustodyRecord("a"), True, 1.0)
    r = record_result(r, True, 2.0)
    assert (r.xp, r.level, r.consecutive_successes) == (100, 1, 2)  # 100 XP, no streak yet
    r = record_result(r, True, 3.0)
    assert (r.xp, r.level) == (150, 2)  # level = 150 // 100 + 1, after the third pass
    r = record_result(r, False, 4.0)
    assert (r.xp, r.level, r.consecutive_successes, r.consecutive_failures) == (151, 2, 0, 1)
    assert r.recent == (True, True, True, False)
    assert r.last_test_at == 4.0


def test_failures_earn_one_xp_and_never_a_level() -> None:
    r = replay("a", [(False, float(i)) for i in range(250)])
    assert (r.xp, r.level, r.passed, r.failed) == (250, 1, 0, 250)


def test_level_up_eligibility() -> None:
    r = replay("a", [(True, 1.0), (True, 2.0), (True, 3.0)])
    assert can_level_up(r)  # 3 of 3, rate 1.0, 150 XP
    assert not can_level_up(replay("a", [(True, 1.0), (True, 2.0)]))  # 2 of last 5
    mixed = replay("a", [(True, 1.0), (True, 2.0), (True, 3.0), (False, 4.0), (False, 5.0)])
    assert not can_level_up(mixed)  # pass rate 0.6


@pytest.mark.parametrize(
    ("level", "need"),
    [(1, None), (2, (1, 0.0)), (3, (3, 0.7)), (4, (5, 0.8)), (9, (10, 0.9)),
     (10, (10, 0.92)), (11, (15, 0.95)), (40, (15, 0.95))],
)  # fmt: skip
def test_proposal_requirements(level: int, need: tuple[int, float] | None) -> None:
    got = proposal_requirement(level)
    if need is None:
        assert got is None
    else:
        assert got is not None
        assert got[0] == need[0]
        assert got[1] == pytest.approx(need[1])


def test_proposal_eligibility_in_practice() -> None:
    starter = replay("a", [(True, 1.0)])
    assert not can_create_proposals(starter)  # level 1
    assert "level 2" in eligibility_reason(starter)
    levelled = replay("a", [(True, float(i)) for i in range(3)])
    assert levelled.level == 2
    assert can_create_proposals(levelled)
    broken = record_result(levelled, False, 9.0)
    assert not can_create_proposals(broken)  # level 2 needs a current streak of 1
    assert "needs 1 consecutive" in eligibility_reason(broken)


@given(st.lists(st.booleans(), max_size=60))
def test_invariants(outcomes: list[bool]) -> None:
    r = replay("a", [(o, float(i)) for i, o in enumerate(outcomes)])
    assert r.xp == 50 * sum(outcomes) + (len(outcomes) - sum(outcomes))
    assert 1 <= r.level <= level_for_xp(r.xp)
    assert len(r.recent) == min(5, len(outcomes))
    assert r.consecutive_successes == 0 or r.consecutive_failures == 0
    assert 0.0 <= r.pass_rate <= 1.0


def test_failed_attempts_do_not_buy_levels() -> None:
    # 1000 failures earn 1000 XP; three passes then are a streak, but a 0.3% pass rate
    # fails the level-up rules, so the level stays
    r = replay("a", [(False, float(i)) for i in range(1000)] + [(True, 2e3 + i) for i in range(3)])
    assert r.xp == 1150
    assert r.level == 1
    assert not can_level_up(r)
