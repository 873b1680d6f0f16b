"""The learning simulator behind ``imperium simulate``: the engine's router and predictor
against simulated agents whose true behaviour comes from a :class:`Scenario`.

A discrete-event simulation in simulated seconds (nothing sleeps). Tasks arrive as a
Poisson process at ``scenario.load * scenario.capacity()`` tasks per second and wait in
arrival order; whenever a task arrives or a slot frees, every waiting task that some
capable agent with a free slot can take is dispatched, oldest first. Candidates are the
engine's own objects (:class:`Task`, :class:`AgentState`) filtered by
:func:`can_take_now` and the scenario's skills; the chosen agent's attempt takes a
lognormal time and succeeds with the scenario's true probability. The policy hears the
outcome (:meth:`Router.observe`) when the attempt finishes, as in the engine.

Policies:

* ``learned`` — :class:`Router` in autonomous mode, called exactly as the engine calls its
  selection policy (``choose(task, candidates)``, skipped when only one agent can take the
  task).
* ``greedy`` — the seed's method: the candidate with the highest observed success rate on
  the task type (its whole history), no exploration; an agent never tried on the type
  counts as rate 0; ties are broken uniformly at random.
* ``random`` — uniform among the candidates.
* ``oracle`` — knows the truth: the highest true success among the candidates, then the
  shorter mean duration, then the id.

Common random numbers: one random stream drives the environment — per task, in arrival
order, the gap since the previous arrival, the task type, the complexity, a uniform *u*
(the attempt succeeds when *u* < true success of the chosen agent) and a standard normal
*z* (duration = exp(mu + sigma·z)) — and another one the policy, so every policy faces the
same tasks with the same luck. The drift schedule (``after_task``) counts tasks in arrival
order (0-based).

Regret of a decision = the highest true success among the same candidates - the chosen
agent's (the oracle's regret is 0 by definition). Every policy also feeds a router (in
observe mode when it does not choose) so drift alarms are measured for every run; an
alarm's ``at_task`` is the number of decisions made when it fired.

Predictions: a fresh predictor from ``make_predictor`` is fitted on the executions
finished so far every ``retrain_every`` decisions (the first on nothing, before decision
0), also before the first ``retrain_every`` while the evidence grows fast (every 8
decisions up to 256, then every 16 up to 512, every 32 up to 1,024: see
``run._refit_due``), so early decisions are not predicted from what the first few
taught, and at once when the router raises a drift alarm. Every fit leaves out the old
regime of each pair an alarm fired for (:func:`~imperium.domain.prediction.since_drift`):
the predictor forgets what the agent did before it changed. Its prediction for the
chosen agent is scored against the outcome, next to the score of the true probabilities
on the same outcomes (``auc_true``, ``brier_true``): the gap is what the predictor
misses.

Modules: ``run`` (:func:`simulate` and the :class:`~.run.Simulation` it drives),
``events`` (arrivals and the event queue), ``policies``, ``record`` (each decision's
trace line and scores), ``drift`` (alarms matched to the scenario), ``result``,
``teams`` (the scenario's team tasks, after the single ones: the team router against the
best team).
"""

from imperium.services.learning.simulation.policies import POLICIES
from imperium.services.learning.simulation.record import TRACE_KEYS
from imperium.services.learning.simulation.result import (
    WINDOWS,
    AgentTally,
    DetectedDrift,
    SimulationResult,
)
from imperium.services.learning.simulation.run import TraceSink, simulate

__all__ = [
    "POLICIES",
    "TRACE_KEYS",
    "WINDOWS",
    "AgentTally",
    "DetectedDrift",
    "SimulationResult",
    "TraceSink",
    "simulate",
]
