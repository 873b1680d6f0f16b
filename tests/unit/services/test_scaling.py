"""Dividing a pool size among agents: exact totals, bounds, proportional, deterministic."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imperium.domain.errors import ConflictError
from imperium.services.swarm.scaling import distribute

CAP = 100_000


@pytest.mark.parametrize(
    ("target", "weights", "expected"),
    [
        (500, {"a": 1, "b": 3}, {"a": 125, "b": 375}),
        (10, {"a": 1, "b": 1, "c": 1000}, {"a": 1, "b": 1, "c": 8}),  # floors first
        (10, {"a": 1, "b": 1, "c": 1}, {"a": 4, "b": 3, "c": 3}),  # remainder to the first
        (250_000, {"a": 1, "b": 3, "c": 5}, {"a": 50_000, "b": CAP, "c": CAP}),  # caps
        (300_000, {"a": 1, "b": 3, "c": 5}, {"a": CAP, "b": CAP, "c": CAP}),
        (3, {"a": 7, "b": 9, "c": 1}, {"a": 1, "b": 1, "c": 1}),
    ],
)
def test_table(target: int, weights: dict[str, int], expected: dict[str, int]) -> None:
    assert distribute(target, weights, 1, CAP) == expected


@pytest.mark.parametrize(("target", "agents"), [(2, 3), (300_001, 3)])
def test_impossible_targets_say_the_range(target: int, agents: int) -> None:
    weights = {str(i): 1 for i in range(agents)}
    with pytest.raises(ConflictError, match=f"choose a target between {agents} and {agents * CAP}"):
        distribute(target, weights, 1, CAP)


sizes = st.dictionaries(
    st.text(min_size=1, max_size=4), st.integers(1, CAP), min_size=1, max_size=8
)


@given(sizes, st.integers(1, CAP), st.data())
def test_shares_add_up_within_bounds_and_follow_size(
    weights: dict[str, int], cap: int, data: st.DataObject
) -> None:
    target = data.draw(st.integers(len(weights), len(weights) * cap), label="target")
    shares = distribute(target, weights, 1, cap)
    assert set(shares) == set(weights)
    assert sum(shares.values()) == target
    assert all(1 <= s <= cap for s in shares.values())
    for a in weights:
        for b in weights:
            if weights[a] > weights[b]:
                assert shares[a] >= shares[b]  # a larger agent never gets fewer slots


def test_agents_with_their_own_bounds_keep_within_them() -> None:
    bounds = {"auto": (2, 5)}
    assert distribute(40, {"auto": 1, "b": 1}, 1, CAP, bounds) == {"auto": 5, "b": 35}
    assert distribute(4, {"auto": 3, "b": 1}, 1, CAP, bounds) == {"auto": 3, "b": 1}
    with pytest.raises(ConflictError, match="auto within their autoscale bounds"):
        distribute(2, {"auto": 1, "b": 1}, 1, CAP, bounds)
