"""Budget allocation across marketing channels on response curves with diminishing
returns: the curve, its fit to past spend and outcome, and the constrained optimum.

Each channel's expected outcome (conversions, sales: whatever unit the history's
``outcome`` is in) at spend ``s`` is ``a * (1 - exp(-s / b))``: ``a`` is the outcome the
channel saturates at, ``b`` the spend at which it reaches 63% of it; the return of the
next unit of spend, ``a / b * exp(-s / b)``, falls as spend grows. A channel with at least
``MIN_DISTINCT_SPENDS`` distinct spends in the history gets its curve fitted by least
squares (``scipy.optimize.least_squares``, the solver under ``curve_fit``, with bounds);
any other channel uses ``DEFAULT_CURVES``, which are assumptions, not measurements.

The allocation maximises the total expected outcome with ``scipy.optimize.minimize``
(SLSQP) subject to the spends adding up to the budget and each within its bounds; the
curves are concave, so the local optimum it finds is the global one. It is compared with
the even split. Needs numpy and scipy (the ``learning`` extra), imported where used.
Pure functions; the caller runs them in a thread.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from imperium.extras import require

CURVE_FORM = "outcome = a * (1 - exp(-spend / b))"
MIN_DISTINCT_SPENDS = 3
"""Points needed per channel to fit two parameters with one degree of freedom left."""
MAX_SCALE = 1000.0
"""``b`` at most this many times the largest observed spend: beyond it the data shows no
saturation, and the fitted curve is a straight line through the origin in effect."""
POOR_FIT = 0.5
"""R² under which a fitted curve's reason says the fit is poor (the R² itself is given)."""

DEFAULT_CURVES: dict[str, tuple[float, float]] = {
    # channel: (a, b) -- ASSUMPTIONS for a budget in the tens of thousands and an outcome
    # counted in conversions; chosen so that search and social saturate late and large,
    # email and sms early and small. Not measured on any data: supply history to replace.
    "social": (1200.0, 12_000.0),
    "email": (500.0, 3_000.0),
    "web": (800.0, 8_000.0),
    "search": (1500.0, 15_000.0),
    "sms": (300.0, 2_000.0),
    "display": (700.0, 10_000.0),
}


@dataclass(frozen=True, slots=True)
class Curve:
    a: float
    b: float

    def outcome(self, spend: float) -> float:
        return self.a * -math.expm1(-spend / self.b)

    def marginal(self, spend: float) -> float:
        """Expected outcome of the next unit of spend."""
        return self.a / self.b * math.exp(-spend / self.b)


@dataclass(frozen=True, slots=True)
class CurveFit:
    curve: Curve
    source: str  # "fitted" or "default"
    reason: str
    points: int
    distinct_spends: int
    r_squared: float | None = None
    rmse: float | None = None
    max_observed_spend: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source, "a": finite(self.curve.a), "b": finite(self.curve.b),
            "reason": self.reason, "points": self.points,
            "distinct_spends": self.distinct_spends, "r_squared": finite(self.r_squared),
            "rmse": finite(self.rmse), "max_observed_spend": finite(self.max_observed_spend),
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class Allocation:
    spends: tuple[float, ...]
    outcomes: tuple[float, ...]
    total: float
    converged: bool
    message: str
    iterations: int


def finite(value: float | None, digits: int = 6) -> float | None:
    """``value`` rounded, or None when it is missing or not finite (JSON has no NaN)."""
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), digits)


def default_fit(channel: str, reason: str, points: int = 0, distinct: int = 0) -> CurveFit:
    a, b = DEFAULT_CURVES[channel]
    return CurveFit(Curve(a, b), "default", reason, points, distinct)


def fit_curve(
    channel: str, spends: Sequence[float], outcomes: Sequence[float],
    min_distinct: int = MIN_DISTINCT_SPENDS,
) -> CurveFit:  # fmt: skip
    """The channel's curve fitted to its history, or its default curve saying why."""
    distinct = len(set(spends))
    if distinct < min_distinct:
        why = f"insufficient data (n={distinct} distinct spends, need {min_distinct})"
        return default_fit(channel, why, len(spends), distinct)
    np = require("numpy", "fitting response curves")
    optimize = require("scipy.optimize", "fitting response curves")
    x, y = np.asarray(spends, dtype=float), np.asarray(outcomes, dtype=float)
    x_scale = float(x.max())
    y_scale = float(y.max()) or 1.0
    xs, ys = x / x_scale, y / y_scale

    def residuals(p: Any) -> Any:
        return p[0] * -np.expm1(-xs / p[1]) - ys

    def jacobian(p: Any) -> Any:
        e = np.exp(-xs / p[1])
        return np.column_stack([1.0 - e, -p[0] * xs / p[1] ** 2 * e])

    best = None
    for b0 in (0.1, 0.5, 2.0, 10.0):  # a few starts: the error surface is not convex
        start = (max(float(ys.max()), 1e-3) / -math.expm1(-1.0 / b0), b0)
        found = optimize.least_squares(residuals, start, jac=jacobian, method="trf",
                                       bounds=([0.0, 1e-6], [np.inf, MAX_SCALE]))  # fmt: skip
        if found.success and (best is None or found.cost < best.cost):
            best = found
    if best is None:
        return default_fit(channel, "the fit did not converge", len(spends), distinct)
    curve = Curve(float(best.x[0]) * y_scale, float(best.x[1]) * x_scale)
    predicted = np.array([curve.outcome(s) for s in x])
    ss_res = float(((y - predicted) ** 2).sum())
    ss_tot = float(((y - y.mean()) ** 2).sum())
    reason = f"fitted on {len(x)} points ({distinct} distinct spends)"
    r_squared = 1.0 - ss_res / ss_tot if ss_tot > 0 else None
    if best.x[1] >= MAX_SCALE * 0.999:
        reason += "; no saturation visible in the data: the curve is nearly linear"
    if r_squared is not None and r_squared < POOR_FIT:
        reason += f"; poor fit (R² {r_squared:.2f}): the curve explains little of the outcome"
    return CurveFit(
        curve, "fitted", reason, len(x), distinct, r_squared=r_squared,
        rmse=math.sqrt(ss_res / len(x)), max_observed_spend=x_scale,
    )  # fmt: skip


def project(values: Sequence[float], lower: Sequence[float], upper: Sequence[float],
            total: float) -> list[float]:  # fmt: skip
    """The point ``clip(values + t, lower, upper)`` whose sum is ``total`` (found by
    bisection on ``t``); needs ``sum(lower) <= total <= sum(upper)``."""

    def placed(t: float) -> list[float]:
        return [min(max(v + t, lo), hi) for v, lo, hi in zip(values, lower, upper, strict=True)]

    low, high = -total - max(values, default=0.0), total + max(upper, default=0.0)
    for _ in range(200):
        mid = (low + high) / 2
        if sum(placed(mid)) < total:
            low = mid
        else:
            high = mid
    point = placed(high)
    return _settle(point, lower, upper, total)


def _settle(point: list[float], lower: Sequence[float], upper: Sequence[float],
            total: float) -> list[float]:  # fmt: skip
    """``point`` with the bisection's residue put where a bound leaves room, so that its
    sum is ``total`` within float rounding."""
    for i in range(len(point)):
        residue = total - sum(point)
        if residue == 0:
            break
        room = (upper[i] if residue > 0 else lower[i]) - point[i]
        point[i] += min(residue, room) if residue > 0 else max(residue, room)
    return point


def allocate(curves: Sequence[Curve], budget: float, lower: Sequence[float],
             upper: Sequence[float]) -> Allocation:  # fmt: skip
    """The spends maximising the total expected outcome, adding up to ``budget``, each
    within its bounds (``sum(lower) <= budget <= sum(upper)``, checked by the caller)."""
    np = require("numpy", "allocating a budget")
    optimize = require("scipy.optimize", "allocating a budget")
    n = len(curves)
    a = np.array([c.a for c in curves])
    rate = np.array([budget / c.b for c in curves])  # the curves in budget units
    norm = float(a.sum()) or 1.0

    def loss(y: Any) -> float:
        return float(-(a * -np.expm1(-rate * y)).sum() / norm)

    def gradient(y: Any) -> Any:
        return -(a * rate * np.exp(-rate * y)) / norm

    start = [s / budget for s in project([budget / n] * n, lower, upper, budget)]
    lo, hi = [x / budget for x in lower], [x / budget for x in upper]
    found = optimize.minimize(
        loss, np.array(start), jac=gradient, method="SLSQP",
        bounds=list(zip(lo, hi, strict=True)),
        constraints=[{"type": "eq", "fun": lambda y: float(y.sum()) - 1.0,
                      "jac": lambda y: np.ones_like(y)}],
        options={"ftol": 1e-12, "maxiter": 500},
    )  # fmt: skip
    candidate = project([float(v) * budget for v in found.x], lower, upper, budget)
    fallback = [s * budget for s in start]
    if total_outcome(curves, fallback) > total_outcome(curves, candidate):
        candidate = fallback  # never report less than the feasible even start
    outcomes = tuple(c.outcome(s) for c, s in zip(curves, candidate, strict=True))
    return Allocation(tuple(candidate), outcomes, sum(outcomes), bool(found.success),
                      str(found.message), int(found.nit))  # fmt: skip


def total_outcome(curves: Sequence[Curve], spends: Sequence[float]) -> float:
    return sum(c.outcome(s) for c, s in zip(curves, spends, strict=True))
