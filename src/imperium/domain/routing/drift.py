"""Drift: a change in an agent's success rate on a task type, and its alarm.

Each pair keeps its last ``drift_window`` outcomes apart from the older ones. When the
window is full and the older history has at least ``drift_min_history`` outcomes, a
two-proportion z-test compares them; beyond ``drift_z`` standard errors (5 by default: the
test runs after every outcome, and a lower bar gives false alarms on stable agents) the
pair's older evidence is dropped (the posterior restarts from the window alone) and a
:class:`DriftAlarm` is recorded. The window that raised the alarm is kept out of the next
test's baseline, so the next test compares newer outcomes only. A degraded agent is
thus routed around within a few dozen of its attempts.
"""

from __future__ import annotations

from dataclasses import dataclass

from imperium.domain.routing.arm import Arm
from imperium.domain.routing.config import RouterConfig
from imperium.domain.stats import two_proportion_z, two_sided_p


@dataclass(frozen=True, slots=True)
class DriftAlarm:
    """A detected change in an agent's success rate on a task type."""

    task_type: str
    agent_id: str
    at: float
    """finished_at of the execution that raised it."""
    observation: int
    """How many executions of this task type the router had seen when it fired."""
    before_rate: float
    before_n: int
    recent_rate: float
    recent_n: int
    z: float

    @property
    def confidence(self) -> float:
        """1 - the test's two-sided p-value: how sure the change is not chance."""
        return 1.0 - two_sided_p(self.z)

    @property
    def direction(self) -> str:
        return "degraded" if self.recent_rate < self.before_rate else "improved"


def drift_alarm(
    arm: Arm, config: RouterConfig, task_type: str, agent_id: str, at: float, observation: int
) -> DriftAlarm | None:
    """The alarm the test raises on ``arm`` after its latest outcome (finished ``at``, the
    task type's ``observation``-th), if its window differs from its older history; the arm
    is left as it is (see :meth:`Arm.restart`)."""
    if len(arm.window) < config.drift_window or arm.older_n < config.drift_min_history:
        return None
    z = two_proportion_z(arm.older_successes, arm.older_n, arm.window_successes, len(arm.window))
    if abs(z) < config.drift_z:
        return None
    return DriftAlarm(
        task_type=task_type,
        agent_id=agent_id,
        at=at,
        observation=observation,
        before_rate=arm.older_successes / arm.older_n,
        before_n=arm.older_n,
        recent_rate=arm.window_successes / len(arm.window),
        recent_n=len(arm.window),
        z=z,
    )
