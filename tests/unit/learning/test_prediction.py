"""The per-pair rates and their recency weighting (``domain/prediction.py``)."""

from __future__ import annotations

import itertools
import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imperium.domain.learning import Query
from imperium.domain.models import Execution
from imperium.domain.prediction import PairRates, recency_weights
from imperium.domain.states import Outcome

NOW = 1_700_000_000.0


def run(
    i: int,
    ok: bool,
    *,
    agent_id: str = "a1",
    task_type: str = "build",
    seconds: float = 10.0,
    finished_at: float | None = None,
) -> Execution:
    end = float(i) if finished_at is None else finished_at
    return Execution(
        task_id=f"t{i}",
        attempt=1,
        agent_id=agent_id,
        task_type=task_type,
        complexity=1.0,
        started_at=end - seconds,
        finished_at=end,
        outcome=Outcome.SUCCEEDED if ok else Outcome.FAILED,
        lease_token=1,
    )


def history(
    rates: list[tuple[int, float]], *, seconds: list[float] | None = None
) -> list[Execution]:
    """Consecutive spans of (count, success rate) for (build, a1), one execution per
    second; in each span the successes are spread evenly, ``rate`` of them exactly."""
    executions: list[Execution] = []
    durations = seconds or [10.0] * len(rates)
    for (count, rate), duration in zip(rates, durations, strict=True):
        for k in range(count):
            # a success whenever the running total of ``rate`` crosses a whole number
            ok = math.floor((k + 1) * rate + 1e-9) > math.floor(k * rate + 1e-9)
            executions.append(run(len(executions), ok, seconds=duration))
    return executions


# ---------------------------------------------------------------------- weights
def test_the_newest_weighs_one_and_each_half_life_halves() -> None:
    executions = [run(i, True) for i in range(401)]
    weights = recency_weights(executions, 100)
    assert weights[-1] == 1.0
    assert weights[-101] == pytest.approx(0.5)
    assert weights[-201] == pytest.approx(0.25)
    assert weights[0] == pytest.approx(0.5**4)
    assert all(older < newer for older, newer in itertools.pairwise(weights))


def test_without_a_half_life_every_execution_weighs_one() -> None:
    assert recency_weights([run(i, True) for i in range(5)], None) == [1.0] * 5
    assert recency_weights([], None) == []
    assert recency_weights([], 10) == []


def test_age_is_by_finish_time_whatever_the_order_and_ties_weigh_the_same() -> None:
    executions = [run(i, True, finished_at=float(i // 2)) for i in range(10)]  # pairs tie
    shuffled = random.Random(3).sample(executions, len(executions))
    weights = {e.task_id: w for e, w in zip(shuffled, recency_weights(shuffled, 2), strict=True)}
    # t8 and t9 finished last: age 0; t6 and t7 have two newer executions: age 2; ...
    assert [weights[e.task_id] for e in executions] == pytest.approx(
        [0.5 ** ((8 - 2 * (i // 2)) / 2) for i in range(10)]
    )


def test_a_long_history_never_weighs_zero() -> None:
    weights = recency_weights([run(i, True) for i in range(3000)], 1)
    assert min(weights) > 0


@given(st.lists(st.floats(0, 1e6), min_size=1, max_size=50), st.floats(0.1, 1e4))
def test_weights_are_in_0_1_and_never_lower_for_a_newer_execution(
    finished: list[float], half_life: float
) -> None:
    executions = [run(i, True, finished_at=t) for i, t in enumerate(finished)]
    weights = recency_weights(executions, half_life)
    assert max(weights) == 1.0
    assert all(0 < w <= 1 for w in weights)
    for (a, wa), (b, wb) in itertools.combinations(zip(finished, weights, strict=True), 2):
        if a < b:
            assert wa <= wb
        elif a == b:
            assert wa == wb


@pytest.mark.parametrize("half_life", [0, -1, math.inf, math.nan])
def test_a_half_life_that_is_not_positive_is_refused(half_life: float) -> None:
    with pytest.raises(ValueError, match="half_life"):
        PairRates(half_life=half_life)
    with pytest.raises(ValueError, match="half_life"):
        recency_weights([run(0, True)], half_life)


# ---------------------------------------------------------------------- rates
def test_unweighted_rates_are_shrunk_towards_the_type_and_overall_rates() -> None:
    # build/a1: 3 of 4; build/a2: 0 of 2; test/a1: 1 of 1
    outcomes = [
        ("a1", True),
        ("a1", True),
        ("a1", True),
        ("a1", False),
        ("a2", False),
        ("a2", False),
    ]
    executions = [run(i, ok, agent_id=a) for i, (a, ok) in enumerate(outcomes)]
    executions.append(run(6, True, task_type="test"))
    rates = PairRates(prior_strength=2.0)
    rates.fit(executions, NOW)

    overall = (4 + 1) / (7 + 2)
    build = (3 + 2 * overall) / (6 + 2)
    [a1, a2, a3] = rates.predict(
        [Query("build", 1.0, "a1"), Query("build", 1.0, "a2"), Query("build", 1.0, "a3")]
    )
    assert a1.success == pytest.approx((3 + 2 * build) / (4 + 2))
    assert a2.success == pytest.approx((0 + 2 * build) / (2 + 2))
    assert a3.success == pytest.approx(build)
    assert (a1.samples, a2.samples, a3.samples) == (4, 2, 0)


def test_after_a_change_the_weighted_rate_is_closer_to_the_new_rate() -> None:
    executions = history([(3000, 0.9), (300, 0.3)])
    query = [Query("build", 1.0, "a1")]
    weighted, plain = PairRates(half_life=50), PairRates()
    weighted.fit(executions, NOW)
    plain.fit(executions, NOW)

    [new], [old] = weighted.predict(query), plain.predict(query)
    assert abs(new.success - 0.3) < abs(old.success - 0.3)
    assert new.success == pytest.approx(0.3, abs=0.03)
    assert old.success == pytest.approx((3000 * 0.9 + 300 * 0.3) / 3300, abs=0.01)
    assert new.samples == old.samples == 3300  # samples count executions, not weights


def test_after_a_change_the_weighted_duration_is_closer_to_the_new_one() -> None:
    executions = history([(3000, 0.9), (300, 0.9)], seconds=[10.0, 40.0])
    query = [Query("build", 1.0, "a1")]
    weighted, plain = PairRates(half_life=50), PairRates()
    weighted.fit(executions, NOW)
    plain.fit(executions, NOW)

    [new], [old] = weighted.predict(query), plain.predict(query)
    # the 3,000 older ones, six half-lives and more away, weigh about 1/64 of the total
    assert new.duration == pytest.approx(40.0 * 0.25 ** (1 / 64), rel=0.01)
    assert old.duration == pytest.approx(
        math.exp((3000 * math.log(10) + 300 * math.log(40)) / 3300)
    )


def test_a_long_half_life_is_nearly_unweighted() -> None:
    executions = history([(500, 0.9), (100, 0.3)])
    query = [Query("build", 1.0, "a1"), Query("other", 1.0, "a1")]
    weighted, plain = PairRates(half_life=1e9), PairRates()
    weighted.fit(executions, NOW)
    plain.fit(executions, NOW)
    for a, b in zip(weighted.predict(query), plain.predict(query), strict=True):
        assert a.success == pytest.approx(b.success, abs=1e-6)


def test_the_held_out_scores_use_the_weighted_rates() -> None:
    # 1,000 at 0.9 then 500 at 0.2: the newest 300 are held out, and the 1,200 trained on
    # end with 200 after the change, which only the weighted rates follow.
    executions = history([(1000, 0.9), (500, 0.2)])
    weighted = PairRates(half_life=50).fit(executions, NOW)
    plain = PairRates().fit(executions, NOW)
    assert weighted.held_out == plain.held_out == 300
    assert weighted.brier is not None
    assert plain.brier is not None
    assert weighted.brier < plain.brier - 0.1
