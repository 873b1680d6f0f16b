"""The router's settings (:class:`RouterConfig`), checked when made."""

from __future__ import annotations

import math
from dataclasses import dataclass

from imperium.domain.learning import RouterMode


@dataclass(frozen=True, slots=True)
class RouterConfig:
    enabled: bool = True
    mode: RouterMode = RouterMode.AUTONOMOUS
    duration_weight: float = 0.02
    cost_weight: float = 0.02
    drift_window: int = 50
    drift_min_history: int = 50
    drift_z: float = 5.0
    forgetting: float = 1.0
    max_alarms: int = 1000
    feedback_weight: float = 0.5
    complexity_prior: float = 0.1
    """Prior sd of a pair's complexity slope around the pooled one, in success per
    standard deviation of complexity; 0 ignores complexity (the plain Beta draw)."""
    duration_fade: float = 20.0
    """A candidate's attempts after which its duration weight counts half (it fades as
    ``fade / (fade + attempts)``); 0: it never fades."""

    def __post_init__(self) -> None:
        if self.drift_window < 5:
            raise ValueError("drift_window must be at least 5")
        if self.drift_min_history < 1:
            raise ValueError("drift_min_history must be at least 1")
        if self.drift_z <= 0:
            raise ValueError("drift_z must be positive")
        if not 0.9 <= self.forgetting <= 1.0:
            raise ValueError("forgetting must be between 0.9 and 1 (1: remember everything)")
        if self.duration_weight < 0 or self.cost_weight < 0:
            raise ValueError("duration_weight and cost_weight must not be negative")
        if not 0.0 <= self.feedback_weight <= 1.0:
            raise ValueError("feedback_weight must be between 0 and 1 (0: ratings are ignored)")
        if not 0.0 <= self.complexity_prior <= 1.0:
            raise ValueError("complexity_prior must be between 0 and 1 (0: complexity is ignored)")
        if not 0.0 <= self.duration_fade < math.inf:
            raise ValueError("duration_fade must be a finite number >= 0 (0: no fading)")

    def speed_weight(self, attempts: float) -> float:
        """The duration weight for a candidate with ``attempts`` outcomes."""
        if self.duration_fade <= 0:
            return self.duration_weight
        fade = self.duration_fade
        return self.duration_weight * fade / (fade + max(0.0, attempts))
