"""The statistics every reported confidence and accuracy figure comes from."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imperium.domain.stats import (
    auc,
    brier,
    percentile,
    two_proportion_z,
    two_sided_p,
    wilson_interval,
)


def test_wilson_interval_matches_the_textbook_value() -> None:
    # 8 of 10: the 95% Wilson interval is (0.4902, 0.9433) (Newcombe 1998, method 3)
    lo, hi = wilson_interval(8, 10)
    assert lo == pytest.approx(0.4902, abs=1e-4)
    assert hi == pytest.approx(0.9433, abs=1e-4)


def test_wilson_interval_without_data_is_uninformative() -> None:
    assert wilson_interval(0, 0) == (0.0, 1.0)


@given(n=st.integers(1, 10_000), data=st.data())
def test_wilson_interval_stays_in_the_unit_interval_and_holds_the_rate(
    n: int, data: st.DataObject
) -> None:
    k = data.draw(st.integers(0, n))
    lo, hi = wilson_interval(k, n)
    assert 0.0 <= lo <= k / n <= hi <= 1.0


def test_wilson_interval_narrows_with_more_evidence() -> None:
    small = wilson_interval(9, 10)
    large = wilson_interval(900, 1000)
    assert large[1] - large[0] < small[1] - small[0]


def test_two_proportion_z_sign_and_size() -> None:
    z = two_proportion_z(90, 100, 40, 100)
    # pooled p = 0.65, se = sqrt(0.65*0.35*0.02) = 0.06745
    assert z == pytest.approx(-0.5 / math.sqrt(0.65 * 0.35 * 0.02))
    assert two_proportion_z(40, 100, 90, 100) == pytest.approx(-z)
    assert two_proportion_z(5, 10, 0, 0) == 0.0
    assert two_proportion_z(10, 10, 10, 10) == 0.0  # no variance, no difference


def test_two_sided_p_of_known_quantiles() -> None:
    assert two_sided_p(1.959963984540054) == pytest.approx(0.05)
    assert two_sided_p(0.0) == pytest.approx(1.0)
    assert two_sided_p(-3.0) == pytest.approx(0.0026998, abs=1e-6)


def test_auc_counts_pairs_and_ties() -> None:
    assert auc([0.1, 0.4, 0.35, 0.8], [False, False, True, True]) == pytest.approx(0.75)
    assert auc([0.5, 0.5], [False, True]) == pytest.approx(0.5)
    assert auc([0.9, 0.1], [True, False]) == 1.0
    assert auc([0.2, 0.3], [True, True]) is None


def test_auc_rejects_mismatched_lengths() -> None:
    with pytest.raises(ValueError, match="length"):
        auc([0.1], [True, False])


def test_brier_score() -> None:
    assert brier([1.0, 0.0], [True, False]) == 0.0
    assert brier([0.5, 0.5], [True, False]) == pytest.approx(0.25)
    assert brier([], []) is None


def test_percentile_interpolates() -> None:
    values = [1.0, 2.0, 3.0, 4.0, 5.0]
    assert percentile(values, 50) == 3.0
    assert percentile(values, 95) == pytest.approx(4.8)
    assert percentile([7.0], 95) == 7.0
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)
