"""A pool size divided among agents in proportion to their current size.

Each agent gets at least ``floor`` and at most ``cap`` slots and the shares add up to the
target exactly. Agent *i* gets ``clamp(level * size_i, floor, cap)`` for the one ``level``
at which these add up to the target (proportional where the bounds allow), computed
exactly with fractions; fractional shares are rounded by largest remainder (ties to the
agent listed first), so the result is deterministic.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from fractions import Fraction

from imperium.domain.errors import ConflictError


def distribute(target: int, weights: Mapping[str, int], floor: int, cap: int) -> dict[str, int]:
    """``target`` slots over the agents of ``weights`` (their current sizes, each >= 1)."""
    n = len(weights)
    if not n * floor <= target <= n * cap:
        raise ConflictError(
            f"{target} slots cannot be divided among {n} agent(s) with {floor} to {cap} "
            f"each; choose a target between {n * floor} and {n * cap}"
        )
    level = _level(target, weights, floor, cap)
    shares = {a: _clamp(level * w, floor, cap) for a, w in weights.items()}
    return _round(shares, target)


def _level(target: int, weights: Mapping[str, int], floor: int, cap: int) -> Fraction:
    """The level at which the clamped shares add up to ``target``: the sum is piecewise
    linear and non-decreasing in the level, with bends where a share meets a bound."""

    def total(level: Fraction) -> Fraction:
        return sum((_clamp(level * w, floor, cap) for w in weights.values()), Fraction(0))

    bends = sorted({Fraction(b, w) for w in weights.values() for b in (floor, cap)})
    low = Fraction(0)
    for high in bends:
        if total(high) >= target:
            at_low, at_high = total(low), total(high)
            if at_high == at_low:
                return high
            return low + (high - low) * (target - at_low) / (at_high - at_low)
        low = high
    return low  # target == n * cap: every share is at the cap


def _clamp(value: Fraction, floor: int, cap: int) -> Fraction:
    return min(Fraction(cap), max(Fraction(floor), value))


def _round(shares: Mapping[str, Fraction], total: int) -> dict[str, int]:
    whole = {a: math.floor(s) for a, s in shares.items()}
    short = total - sum(whole.values())
    by_remainder = sorted(shares, key=lambda a: -(shares[a] - whole[a]))  # stable: input order
    for agent in by_remainder[:short]:
        whole[agent] += 1
    return whole
