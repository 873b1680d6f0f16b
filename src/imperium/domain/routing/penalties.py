"""The secondary objectives (duration, cost): what each takes off a candidate's draw, by
how far its value is above the best candidate's (the utility in the package's notes)."""

from __future__ import annotations

import math
from collections.abc import Iterable


def _smallest(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None and v > 0]
    return min(known) if known else None


def penalty(value: float | None, best: float | None, weight: float) -> float:
    """What a secondary objective (duration, cost) takes off a draw: ``weight`` per
    doubling over the best candidate's value; nothing when either is unknown."""
    if value is None or best is None or weight == 0 or best <= 0:
        return 0.0
    return weight * math.log2(max(value, best) / best)
