"""Complexity: a linear model of each pair's success in the task's complexity, the test of
whether the agents' slopes differ, and what each candidate's draw moves by.

Complexity (``complexity_prior`` > 0, 0.1 by default): besides its Beta, each pair keeps
the (decayed) sums of its attempts' complexity *x*, *x²* and *x·y* (*y*: the reward), a
linear model of success in complexity. A draw from the pair's Beta estimates its success
at the pair's mean complexity x̄; the choice moves it to the task's complexity *c*::

    draw(c) = Beta draw + slope · (c - x̄)

only once the candidates' own least-squares slopes differ more than their noise explains
(Cochran's Q test of homogeneity at the 0.1% level): a slope common to every agent
changes no ranking, and estimating one per agent would only add noise, so until then the
choice is the plain Beta draw. The same test runs over all the type's agents every 16
outcomes of the type; once it fires the type is marked (:attr:`Router.sloped`) and its
draws move with complexity from then on, whichever candidates are free (a few free
agents, or little-known ones, may not show it on their own). The slope is then the
posterior mean of a Gaussian model: the pair's least-squares slope, shrunk towards the
slope pooled over the candidates (their within-pair least-squares slope, itself shrunk
towards none), with a prior standard deviation of ``complexity_prior`` success per
standard deviation of complexity. An agent best on easy tasks and another best on hard
ones are then each chosen where they are best; a candidate never tried takes the pooled
slope from the candidates' mean complexity. No random number beyond the Beta draws is
used. The known weakness: the test needs evidence on both agents across complexities, so
a reversal involving an agent the router has stopped choosing can stay unnoticed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from imperium.domain.routing.arm import Arm

_TINY = 1e-9  # a within-pair complexity variance below this (per attempt) is none
_MIN_NOISE = 0.01  # the least outcome variance assumed for a pair's slope
_Z_HOMOGENEITY = 3.09  # one-sided normal quantile of the slopes' homogeneity test (0.1%)
_SLOPE_TEST_EVERY = 16  # outcomes of a task type between tests over all its agents

Fit = tuple[float, float, float]
"""(mean complexity, least-squares slope, its variance) of one pair."""


def _fit(arm: Arm) -> Fit:
    """(mean complexity, least-squares slope, its variance) of a pair with attempts; the
    variance is infinite when its attempts all had one complexity."""
    mean, sxx, sxy = arm.centred()
    if sxx <= _TINY * arm.post_n:
        return mean, 0.0, math.inf
    rate = (arm.post_successes + 1) / (arm.post_n + 2)
    noise = max(rate * (1 - rate), _MIN_NOISE)
    return mean, sxy / sxx, noise / sxx


def _differ(fits: Iterable[Fit | None]) -> bool:
    """True when the pairs' least-squares slopes differ more than their noise explains:
    Cochran's Q test of homogeneity at the 0.1% level (Wilson-Hilferty's approximation
    of the chi-squared quantile); False with fewer than two slopes."""
    known = [(fit[1], 1 / fit[2]) for fit in fits if fit is not None and 0 < fit[2] < math.inf]
    k = len(known) - 1
    if k < 1:
        return False
    total = sum(w for _, w in known)
    mean = sum(b * w for b, w in known) / total
    q = sum(w * (b - mean) ** 2 for b, w in known)
    critical = k * (1 - 2 / (9 * k) + _Z_HOMOGENEITY * math.sqrt(2 / (9 * k))) ** 3
    return q > critical


@dataclass(slots=True)
class _Pool:
    """The candidates' attempts taken together: their count, the sum of their complexity,
    the within-pair sums of squares and products, and each candidate's own fit (None for
    one without attempts)."""

    n: float = 0.0
    x: float = 0.0
    sxx: float = 0.0
    sxy: float = 0.0
    fits: list[Fit | None] = field(default_factory=list)

    def add(self, arm: Arm | None) -> None:
        if arm is None or arm.post_n <= 0:
            self.fits.append(None)
            return
        _, pair_sxx, pair_sxy = arm.centred()
        self.n += arm.post_n
        self.x += arm.post_x
        self.sxx += pair_sxx
        self.sxy += pair_sxy
        self.fits.append(_fit(arm))


def shifts(
    arms: Sequence[Arm | None], complexity: float, prior: float, sloped: bool
) -> list[float] | None:
    """Per candidate, what its draw moves by at ``complexity``, with a slope prior sd of
    ``prior`` (None: nothing moves: complexity is ignored, the candidates' attempts all
    had one complexity, or their slopes do not differ and the type is not ``sloped``)."""
    if prior <= 0:
        return None
    pool = _Pool()
    for arm in arms:
        pool.add(arm)
    n, sxx = pool.n, pool.sxx
    if n <= 0 or sxx <= _TINY * n:
        return None
    spread = math.sqrt(sxx / n)  # within-pair standard deviation of complexity
    floor = (prior / spread) ** 2
    if not sloped and not _differ(pool.fits):
        return None  # one slope for every candidate changes no ranking
    # the pooled slope is shrunk towards 0 (no effect), so that a few attempts cannot
    # tilt every draw (0.25: the largest variance of an outcome)
    pooled = (pool.sxy / 0.25) / (sxx / 0.25 + 1 / floor)
    mean_all = pool.x / n
    return [_shift(fit, pooled, floor, complexity, mean_all) for fit in pool.fits]


def _shift(
    fit: Fit | None, pooled: float, tau2: float, complexity: float, mean_all: float
) -> float:
    """One candidate's move: along its own slope shrunk towards ``pooled`` (prior variance
    ``tau2``), or along ``pooled`` alone when it has no slope of its own."""
    if fit is None:
        return pooled * (complexity - mean_all)
    mean, own, variance = fit
    if math.isinf(variance):
        return pooled * (complexity - mean)
    slope = (own / variance + pooled / tau2) / (1 / variance + 1 / tau2)
    return slope * (complexity - mean)
