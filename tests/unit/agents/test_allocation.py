"""The marketing maths (agents/_allocation.py, _segments.py): the constrained optimum
against its analytical value, bounds, the even split, curve fits recovering known
parameters, the fallback to default curves saying why, and k-means segments."""

from __future__ import annotations

import math
import random

import pytest

from imperium.agents import _allocation as al
from imperium.agents._segments import numeric_fields, segment


def two_curve_optimum(c1: al.Curve, c2: al.Curve, budget: float) -> float:
    """Spend on the first curve where both marginal returns are equal (interior case):
    ln(a1/b1) - x/b1 = ln(a2/b2) - (B - x)/b2."""
    gap = math.log(c1.a / c1.b) - math.log(c2.a / c2.b) + budget / c2.b
    return gap / (1 / c1.b + 1 / c2.b)


@pytest.mark.parametrize(
    ("c1", "c2", "budget"),
    [
        (al.Curve(1000, 5000), al.Curve(2000, 20_000), 20_000),
        (al.Curve(500, 3000), al.Curve(500, 3000), 10_000),  # twins: the even split
        (al.Curve(1200, 12_000), al.Curve(300, 2000), 25_000),
        (al.Curve(10, 1), al.Curve(8, 2), 6),  # small units
    ],
)
def test_two_curves_reach_the_analytical_optimum(c1: al.Curve, c2: al.Curve, budget: float) -> None:
    expected = two_curve_optimum(c1, c2, budget)
    assert 0 < expected < budget  # an interior optimum
    found = al.allocate([c1, c2], budget, [0, 0], [budget, budget])
    assert found.converged
    assert found.spends[0] == pytest.approx(expected, rel=1e-4)
    assert sum(found.spends) == pytest.approx(budget, rel=1e-12)
    assert c1.marginal(found.spends[0]) == pytest.approx(c2.marginal(found.spends[1]), rel=1e-3)
    even = al.total_outcome([c1, c2], [budget / 2, budget / 2])
    assert found.total >= even - 1e-9


@pytest.mark.parametrize(
    ("lower", "upper", "pinned"),
    [
        ([0, 0, 0], [2000, 25_000, 25_000], {0: 2000}),  # a max that binds
        ([0, 9000, 0], [25_000, 25_000, 25_000], {1: 9000}),  # a min that binds
        ([5000, 5000, 5000], [5000, 5000, 15_000], {0: 5000, 1: 5000, 2: 15_000}),  # forced
    ],
)
def test_bounds_are_respected(
    lower: list[float], upper: list[float], pinned: dict[int, float]
) -> None:
    curves = [al.Curve(1200, 12_000), al.Curve(500, 3000), al.Curve(800, 8000)]
    found = al.allocate(curves, 25_000, lower, upper)
    assert sum(found.spends) == pytest.approx(25_000, rel=1e-12)
    for spend, lo, hi in zip(found.spends, lower, upper, strict=True):
        assert lo - 1e-6 <= spend <= hi + 1e-6
    for index, spend in pinned.items():
        assert found.spends[index] == pytest.approx(spend, abs=1e-3)
    free = [i for i in range(3) if i not in pinned]
    if len(free) == 2:  # the unbound channels share the same marginal return
        a, b = (curves[i].marginal(found.spends[i]) for i in free)
        assert a == pytest.approx(b, rel=1e-3)


def test_one_channel_takes_the_whole_budget() -> None:
    found = al.allocate([al.Curve(100, 50)], 300, [0], [300])
    assert found.spends == pytest.approx((300,))
    assert found.total == pytest.approx(100 * (1 - math.exp(-6)))


def test_project_puts_a_point_on_the_budget_within_bounds() -> None:
    point = al.project([10, 10, 10], [0, 12, 0], [11, 100, 100], 60)
    assert sum(point) == pytest.approx(60)
    assert point[0] <= 11
    assert point[1] >= 12


@pytest.mark.parametrize(("a", "b"), [(900, 4000), (50, 200), (12_000, 80_000)])
def test_a_fit_recovers_the_curve_its_points_came_from(a: float, b: float) -> None:
    truth = al.Curve(a, b)
    spends = [b * f for f in (0.1, 0.3, 0.6, 1.0, 1.5, 2.5, 4.0)]
    fit = al.fit_curve("social", spends, [truth.outcome(s) for s in spends])
    assert fit.source == "fitted"
    assert (fit.curve.a, fit.curve.b) == (pytest.approx(a, rel=1e-6), pytest.approx(b, rel=1e-6))
    assert fit.r_squared == pytest.approx(1.0)
    assert fit.max_observed_spend == pytest.approx(max(spends))


def test_a_fit_on_noisy_points_reports_its_r_squared_honestly() -> None:
    rng = random.Random(7)
    truth = al.Curve(900, 4000)
    spends = [1000.0 * i for i in range(1, 13)]
    outcomes = [truth.outcome(s) * (1 + rng.gauss(0, 0.05)) for s in spends]
    fit = al.fit_curve("email", spends, outcomes)
    assert fit.curve.a == pytest.approx(900, rel=0.1)
    assert fit.curve.b == pytest.approx(4000, rel=0.2)
    mean = sum(outcomes) / len(outcomes)
    ss_res = sum((o - fit.curve.outcome(s)) ** 2 for s, o in zip(spends, outcomes, strict=True))
    ss_tot = sum((o - mean) ** 2 for o in outcomes)
    assert fit.r_squared == pytest.approx(1 - ss_res / ss_tot)
    assert 0.9 < fit.r_squared < 1.0


@pytest.mark.parametrize(
    ("spends", "reason"),
    [
        ([], "insufficient data (n=0 distinct spends, need 3)"),
        ([1000, 2000], "insufficient data (n=2 distinct spends, need 3)"),
        ([1000, 1000, 2000, 2000], "insufficient data (n=2 distinct spends, need 3)"),
    ],
)
def test_too_little_history_falls_back_to_the_default_curve(
    spends: list[float], reason: str
) -> None:
    fit = al.fit_curve("sms", spends, [10.0] * len(spends))
    assert (fit.source, fit.reason, fit.points) == ("default", reason, len(spends))
    assert (fit.curve.a, fit.curve.b) == al.DEFAULT_CURVES["sms"]
    assert fit.r_squared is None
    assert fit.as_dict()["r_squared"] is None


def test_a_poor_or_linear_fit_says_so() -> None:
    falling = al.fit_curve("web", [1, 2, 3, 4], [9, 5, 7, 1])
    assert falling.source == "fitted"
    assert "poor fit" in falling.reason
    straight = al.fit_curve("web", [1, 2, 3], [1, 2, 3])
    assert "no saturation visible" in straight.reason


def test_every_channel_has_a_default_curve() -> None:
    from imperium.domain.generated import CHANNEL_LIMITS

    assert set(al.DEFAULT_CURVES) == set(CHANNEL_LIMITS)


@pytest.mark.parametrize("value", [None, math.nan, math.inf, -math.inf])
def test_finite_never_lets_nan_through(value: float | None) -> None:
    assert al.finite(value) is None


def groups(n: int) -> list[dict[str, float]]:
    """Three well separated groups of customers: (age, orders) around three centres."""
    rng = random.Random(3)
    centres = [(22, 1), (45, 10), (65, 4)]
    return [{"id": i, "age": centres[i % 3][0] + rng.gauss(0, 1),
             "orders": centres[i % 3][1] + rng.gauss(0, 0.3), "vip": i % 2 == 0}
            for i in range(n)]  # fmt: skip


def test_kmeans_finds_the_groups_and_reports_them_in_their_own_units() -> None:
    records = groups(90)
    usable, ignored = numeric_fields(records)
    assert (usable, ignored) == (["id", "age", "orders"], ["vip"])
    found = segment(records, ["age", "orders"])
    assert found.value is not None
    assert found.value["k"] == 3
    assert [g["size"] for g in found.value["segments"]] == [30, 30, 30]
    centres = sorted((round(g["centroid"]["age"]), round(g["centroid"]["orders"]))
                     for g in found.value["segments"])  # fmt: skip
    assert centres == [(22, 1), (45, 10), (65, 4)]
    assert segment(records, ["age", "orders"]).value == found.value  # seeded


@pytest.mark.parametrize(
    ("records", "reason"),
    [
        (groups(5), "insufficient data (n=5 records, need 10)"),
        ([{"age": 30}] * 12, "every numeric field has the same value in every record"),
        (
            [{"age": 30 + i % 2} for i in range(12)],
            "insufficient data (2 distinct records, need 3)",
        ),
    ],
)
def test_segments_say_why_there_are_none(records: list[dict[str, float]], reason: str) -> None:
    assert segment(records, ["age"]) == segment(records, ["age"])
    found = segment(records, ["age"])
    assert (found.value, found.reason) == (None, reason)


@pytest.mark.parametrize("seed", range(20))
def test_the_optimum_meets_the_kkt_conditions(seed: int) -> None:
    """Random curves and bounds (seeded): at the optimum the channels strictly inside their
    bounds share one marginal return, those at a minimum have no more, at a maximum no
    less; and it is never worse than any feasible point tried."""
    rng = random.Random(seed)
    n = rng.randint(2, 6)
    curves = [al.Curve(rng.uniform(50, 5000), rng.uniform(500, 40_000)) for _ in range(n)]
    budget = rng.uniform(1000, 100_000)
    lower = [rng.choice([0.0, rng.uniform(0, budget / (2 * n))]) for _ in range(n)]
    upper = [rng.choice([budget, rng.uniform(budget / n, budget)]) for _ in range(n)]
    if sum(upper) < budget:
        upper[0] = budget
    found = al.allocate(curves, budget, lower, upper)
    assert sum(found.spends) == pytest.approx(budget, rel=1e-9)
    tol = budget * 1e-6
    marginal = [c.marginal(s) for c, s in zip(curves, found.spends, strict=True)]
    inside = [m for m, s, lo, hi in zip(marginal, found.spends, lower, upper, strict=True)
              if lo + tol < s < hi - tol]  # fmt: skip
    level = max(marginal) if not inside else sum(inside) / len(inside)
    for m, s, lo, hi in zip(marginal, found.spends, lower, upper, strict=True):
        assert lo - tol <= s <= hi + tol
        if lo + tol < s < hi - tol:
            assert m == pytest.approx(level, rel=1e-3)
        elif s <= lo + tol and inside:
            assert m <= level * (1 + 1e-3)
        elif s >= hi - tol and inside:
            assert m >= level * (1 - 1e-3)
    for _ in range(20):  # random feasible points never beat it
        point = al.project([rng.uniform(0, budget) for _ in range(n)], lower, upper, budget)
        assert al.total_outcome(curves, point) <= found.total + 1e-9 * found.total
