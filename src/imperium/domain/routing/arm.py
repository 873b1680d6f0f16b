"""What the router knows about one agent on one task type (:class:`Arm`): the posterior's
evidence, the drift test's window, durations and costs.

Forgetting (``forgetting`` < 1, off by default): the posterior's counts are multiplied by
``forgetting`` at every outcome of the task type, so evidence about an agent the router
stopped choosing fades and it is tried again now and then. That notices an agent that
*improved* while unused (drift alone cannot: an unused agent produces no outcomes), at
the price of steady exploration; ``bench/learning.py`` measures both sides.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

_MIN_DURATION = 1e-3  # seconds; keeps log() finite for instant attempts


@dataclass(slots=True)
class Arm:
    """What the router knows about one agent on one task type.

    Two views of the outcomes: the posterior's counts (``post_*``: since the last drift
    alarm, decayed by ``forgetting``) and the drift test's (the last ``drift_window``
    outcomes apart from the older ones, undecayed)."""

    post_successes: float = 0.0
    post_n: float = 0.0
    post_x: float = 0.0
    post_xx: float = 0.0
    post_xy: float = 0.0
    """Sums of complexity, its square and complexity times reward, over the posterior's
    attempts (decayed and reset with ``post_*``)."""
    tick: int = 0
    """The task type's observation count when ``post_*`` were last decayed."""
    older_successes: int = 0
    older_n: int = 0
    window: deque[bool] = field(default_factory=deque)
    window_x: deque[float] = field(default_factory=deque)
    """The complexities of the window's outcomes."""
    window_successes: int = 0
    quarantine: int = 0
    """Outcomes still in the window that raised the last alarm: they leave it without
    joining the older history, so the next test compares new outcomes with newer ones."""
    log_duration_sum: float = 0.0
    duration_n: int = 0
    cost_sum: float = 0.0
    cost_n: int = 0
    total: int = 0
    """Every outcome ever observed, also those dropped after a drift."""

    def evidence(self, tick: int, forgetting: float) -> tuple[float, float]:
        """(successes, attempts) for the posterior at the task type's ``tick``."""
        if forgetting >= 1.0 or tick == self.tick:
            return self.post_successes, self.post_n
        factor = forgetting ** (tick - self.tick)
        return self.post_successes * factor, self.post_n * factor

    def decay(self, tick: int, forgetting: float) -> None:
        """Bring every ``post_*`` sum to the task type's ``tick``."""
        if forgetting < 1.0 and tick != self.tick:
            factor = forgetting ** (tick - self.tick)
            self.post_successes *= factor
            self.post_n *= factor
            self.post_x *= factor
            self.post_xx *= factor
            self.post_xy *= factor
        self.tick = tick

    def add(self, ok: bool, x: float, window: int) -> None:
        """One outcome at complexity ``x`` (the sums decayed first): into the posterior and
        the drift window, whose oldest outcome beyond ``window`` goes to the older history
        (or out, while quarantined)."""
        self.post_successes += ok
        self.post_n += 1
        self.post_x += x
        self.post_xx += x * x
        self.post_xy += x * ok
        self.total += 1
        self.window.append(ok)
        self.window_x.append(x)
        self.window_successes += ok
        if len(self.window) > window:
            old = self.window.popleft()
            self.window_x.popleft()
            self.window_successes -= old
            if self.quarantine:
                self.quarantine -= 1
            else:
                self.older_successes += old
                self.older_n += 1

    def add_usage(self, duration: float, cost: float | None) -> None:
        """An attempt's duration in seconds and its cost (ignored when None or negative)."""
        self.log_duration_sum += math.log(max(duration, _MIN_DURATION))
        self.duration_n += 1
        if cost is not None and cost >= 0:
            self.cost_sum += cost
            self.cost_n += 1

    def restart(self, tick: int) -> None:
        """After a drift alarm: the old evidence no longer describes this agent, so the
        posterior restarts from the window, and the window is kept out of the next test's
        baseline."""
        self.older_successes = 0
        self.older_n = 0
        self.quarantine = len(self.window)
        self.post_successes, self.post_n = float(self.window_successes), float(len(self.window))
        self.post_x = sum(self.window_x)
        self.post_xx = sum(x * x for x in self.window_x)
        self.post_xy = sum(x for x, ok in zip(self.window_x, self.window, strict=True) if ok)
        self.tick = tick

    def reweigh(self, change: float) -> float:
        """Move the posterior's success count by ``change`` (a rating: the sums decayed
        first), kept between 0 and the attempts; returns how far it moved."""
        successes, attempts = self.post_successes, self.post_n
        moved = min(attempts, max(0.0, successes + change))
        # the rated attempt's complexity is not known here: the change goes in at the
        # pair's mean complexity, so it moves the pair's level, not its slope
        mean = self.post_x / attempts if attempts > 0 else 0.0
        self.post_successes = moved
        self.post_xy += (moved - successes) * mean
        return moved - successes

    def centred(self) -> tuple[float, float, float]:
        """(mean complexity, Σ(x - x̄)², Σ(x - x̄)(y - ȳ)) of the posterior's attempts
        (decay cancels out of the slope, so the last decayed sums serve)."""
        n = self.post_n
        if n <= 0:
            return 0.0, 0.0, 0.0
        mean = self.post_x / n
        sxx = max(0.0, self.post_xx - self.post_x * mean)
        sxy = self.post_xy - self.post_x * self.post_successes / n
        return mean, sxx, sxy

    @property
    def duration(self) -> float | None:
        """Geometric mean duration in seconds; None before the first attempt."""
        if self.duration_n == 0:
            return None
        return math.exp(self.log_duration_sum / self.duration_n)

    @property
    def cost(self) -> float | None:
        return self.cost_sum / self.cost_n if self.cost_n else None
