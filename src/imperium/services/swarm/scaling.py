"""A pool size divided among agents in proportion to their current size.

Each agent gets at least ``floor`` and at most ``cap`` slots (or its own bounds, e.g. an
autoscaled agent's min and max) and the shares add up to the target exactly. Agent *i*
gets ``clamp(level * size_i, floor_i, cap_i)`` for the one ``level``
at which these add up to the target (proportional where the bounds allow), computed
exactly with fractions; fractional shares are rounded by largest remainder (ties to the
agent listed first), so the result is deterministic.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from fractions import Fraction

from imperium.domain.errors import ConflictError

Bounds = Mapping[str, tuple[int, int]]


def distribute(
    target: int,
    weights: Mapping[str, int],
    floor: int,
    cap: int,
    bounds: Bounds | None = None,
) -> dict[str, int]:
    """``target`` slots over the agents of ``weights`` (their current sizes, each >= 1);
    ``bounds`` gives some agents their own ``(floor, cap)``."""
    limits = {a: (bounds or {}).get(a, (floor, cap)) for a in weights}
    low, high = sum(f for f, _ in limits.values()), sum(c for _, c in limits.values())
    if not low <= target <= high:
        raise ConflictError(
            f"{target} slots cannot be divided among {len(weights)} agent(s) with "
            f"{_describe(limits, floor, cap)}; choose a target between {low} and {high}"
        )
    level = _level(target, weights, limits)
    shares = {a: _clamp(level * w, *limits[a]) for a, w in weights.items()}
    return _round(shares, target)


def _describe(limits: Bounds, floor: int, cap: int) -> str:
    own = sorted(a for a, b in limits.items() if b != (floor, cap))
    text = f"{floor} to {cap} each"
    if own:
        text += f" ({', '.join(own)} within their autoscale bounds)"
    return text


def _level(target: int, weights: Mapping[str, int], limits: Bounds) -> Fraction:
    """The level at which the clamped shares add up to ``target``: the sum is piecewise
    linear and non-decreasing in the level, with bends where a share meets a bound."""

    def total(level: Fraction) -> Fraction:
        return sum((_clamp(level * w, *limits[a]) for a, w in weights.items()), Fraction(0))

    bends = sorted({Fraction(b, w) for a, w in weights.items() for b in limits[a]})
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
