"""The learned router: Thompson sampling per (task type, agent), with drift detection.

What belongs here: the router's maths and the evidence it keeps, one concept a module —
``config`` (:class:`RouterConfig`), ``arm`` (what is known of one agent on one task type,
and forgetting), ``drift`` (the two-proportion test and :class:`DriftAlarm`), ``slopes``
(success against complexity: the pairs' slopes, their homogeneity test, the draws'
moves), ``penalties`` (duration and cost against the best candidate's) and ``router``
(:class:`Router`, which learns, chooses and reports with them). Like the rest of the
domain it imports only the standard library and other domain modules, and does no I/O.
What other code and the tests use is re-exported here (a few private helpers too).

For every (task type, agent) pair the router keeps a Beta posterior over the agent's
success probability (prior Beta(1, 1)), the mean log-duration and the mean cost of its
attempts. To choose, it draws one success probability from each candidate's posterior and
takes the highest *utility*::

    utility = sampled success - duration_weight · log2(duration / fastest candidate's)
                              - cost_weight · log2(cost / cheapest candidate's)

so success comes first and a twice-as-costly agent must be ``cost_weight`` more likely to
succeed to be chosen (a twice-as-slow one ``duration_weight``, at first: see below).
Drawing from the posterior explores exactly as much as the evidence is uncertain: a new
agent (no data) is tried, a proven one exploited.

Speed counts while the evidence is thin, not for ever: a candidate's duration weight
fades with its attempts *n* as ``duration_weight · duration_fade / (duration_fade + n)``
(20 by default: half after 20 attempts, a tenth after 180). Early on the router leans to
fast agents, whose outcomes come back sooner (it learns faster); with evidence it
chooses by success alone. A persistent trade-off gave up success on every decision
between agents closer than it (up to 0.09 for durations of 5 s against 2 min), for ever;
the price of fading is that two agents equally likely to succeed end up sharing the
work whatever their speed. ``duration_fade=0`` keeps the weight whole. Cost is money
the user pays for, and its weight does not fade.

Drift (a pair's recent outcomes against its older ones), forgetting (``forgetting`` < 1)
and complexity (a draw moved along the pair's slope once the agents' slopes differ) are
described in their modules: ``drift``, ``arm`` and ``slopes``.

User feedback (``feedback_weight``, 0.5 by default): a rating of an attempt's result moves
that attempt's reward from its bare success to ``(1 - weight) · success + weight · mean
score`` of its ratings (:meth:`Router.rate`), in the posterior's success count only (the
drift test watches bare outcomes).

Everything is in memory and rebuilt from ``agent_task_executions`` and ``task_feedback``
at start (:meth:`Router.observe` and :meth:`Router.rate` on the history, oldest first).
Pure: randomness comes in as an argument.
"""

from imperium.domain.routing.arm import _MIN_DURATION as _MIN_DURATION
from imperium.domain.routing.arm import Arm
from imperium.domain.routing.config import RouterConfig
from imperium.domain.routing.drift import DriftAlarm
from imperium.domain.routing.penalties import _smallest as _smallest
from imperium.domain.routing.penalties import penalty
from imperium.domain.routing.router import BetaRng, Estimate, Router
from imperium.domain.routing.slopes import _MIN_NOISE as _MIN_NOISE
from imperium.domain.routing.slopes import _SLOPE_TEST_EVERY as _SLOPE_TEST_EVERY
from imperium.domain.routing.slopes import _TINY as _TINY
from imperium.domain.routing.slopes import _Z_HOMOGENEITY as _Z_HOMOGENEITY
from imperium.domain.routing.slopes import _differ as _differ
from imperium.domain.routing.slopes import _fit as _fit

__all__ = ["Arm", "BetaRng", "DriftAlarm", "Estimate", "Router", "RouterConfig", "penalty"]
