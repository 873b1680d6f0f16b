"""The learned router: Thompson sampling per (task type, agent), with drift detection.

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

Drift: each pair keeps its last ``drift_window`` outcomes apart from the older ones. When
the window is full and the older history has at least ``drift_min_history`` outcomes, a
two-proportion z-test compares them; beyond ``drift_z`` standard errors (5 by default: the
test runs after every outcome, and a lower bar gives false alarms on stable agents) the
pair's older evidence is dropped (the posterior restarts from the window alone) and a
:class:`DriftAlarm` is recorded. The window that raised the alarm is kept out of the next
test's baseline, so the next test compares newer outcomes only. A degraded agent is
thus routed around within a few dozen of its attempts.

Forgetting (``forgetting`` < 1, off by default): the posterior's counts are multiplied by
``forgetting`` at every outcome of the task type, so evidence about an agent the router
stopped choosing fades and it is tried again now and then. That notices an agent that
*improved* while unused (drift alone cannot: an unused agent produces no outcomes), at
the price of steady exploration; ``bench/learning.py`` measures both sides.

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

User feedback (``feedback_weight``, 0.5 by default): a rating of an attempt's result moves
that attempt's reward from its bare success to ``(1 - weight) · success + weight · mean
score`` of its ratings (:meth:`Router.rate`), in the posterior's success count only (the
drift test watches bare outcomes).

Everything is in memory and rebuilt from ``agent_task_executions`` and ``task_feedback``
at start (:meth:`Router.observe` and :meth:`Router.rate` on the history, oldest first).
Pure: randomness comes in as an argument.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from imperium.domain.feedback import Feedback
from imperium.domain.learning import RouterMode, counts, succeeded
from imperium.domain.models import AgentState, Execution, Task
from imperium.domain.selection import LeastLoaded
from imperium.domain.stats import two_proportion_z, two_sided_p, wilson_interval


class BetaRng(Protocol):
    """What the router needs from a random source (``random.Random`` has it)."""

    def betavariate(self, alpha: float, beta: float) -> float: ...


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


@dataclass(frozen=True, slots=True)
class Estimate:
    """The router's view of one agent for one task type, for recommendations."""

    agent_id: str
    success: float
    """Posterior mean."""
    lower: float
    upper: float
    """95% Wilson interval of the observed rate ((0, 1) with no data)."""
    samples: int
    duration: float | None
    cost: float | None


_MIN_DURATION = 1e-3  # seconds; keeps log() finite for instant attempts
_TINY = 1e-9  # a within-pair complexity variance below this (per attempt) is none
_MIN_NOISE = 0.01  # the least outcome variance assumed for a pair's slope
_Z_HOMOGENEITY = 3.09  # one-sided normal quantile of the slopes' homogeneity test (0.1%)
_SLOPE_TEST_EVERY = 16  # outcomes of a task type between tests over all its agents


class Router:
    """A :class:`~imperium.domain.selection.SelectionPolicy` that learns."""

    def __init__(self, rng: BetaRng, config: RouterConfig | None = None) -> None:
        self.rng = rng
        self.config = config or RouterConfig()
        self.arms: dict[tuple[str, str], Arm] = {}
        self.seen: dict[str, int] = {}  # executions observed per task type
        self.alarms: deque[DriftAlarm] = deque(maxlen=self.config.max_alarms)
        self.alarms_raised = 0  # ever, also those the bounded deque has let go
        self.sloped: set[str] = set()
        """Task types whose agents' complexity slopes were found to differ (tested over
        all the type's agents every ``_SLOPE_TEST_EVERY`` outcomes): their draws move with
        complexity from then on, whichever candidates are free."""
        self._agents_of: dict[str, list[str]] = {}
        """Per task type, the agents it has an arm for."""
        self.decisions = 0
        self.ratings: dict[tuple[str, int], tuple[float, int]] = {}
        """(task id, attempt) → (sum of scores, ratings) of the attempts rated so far."""
        self._recording: list[Execution | Feedback] | None = None
        self._fallback = LeastLoaded()

    def agents(self) -> set[str]:
        """The agents the router holds evidence about."""
        return {agent_id for _, agent_id in self.arms}

    def forget(self, agent_ids: Iterable[str]) -> int:
        """Drop what was learned about these agents (removed or retired); returns how many
        (task type, agent) entries went."""
        gone = set(agent_ids)
        keys = [key for key in self.arms if key[1] in gone]
        for key in keys:
            del self.arms[key]
        for kind, agents in self._agents_of.items():
            self._agents_of[kind] = [a for a in agents if a not in gone]
        return len(keys)

    # ------------------------------------------------------------------ learning
    def observe(self, execution: Execution) -> DriftAlarm | None:
        """Learn from one finished attempt; returns the drift alarm it raised, if any."""
        if not self.config.enabled or not counts(execution):
            return None
        assert execution.agent_id is not None
        if self._recording is not None:
            self._recording.append(execution)
        key = (execution.task_type, execution.agent_id)
        arm = self.arms.get(key)
        if arm is None:
            arm = self.arms[key] = Arm()
            self._agents_of.setdefault(execution.task_type, []).append(execution.agent_id)
        tick = self.seen[execution.task_type] = self.seen.get(execution.task_type, 0) + 1
        ok = succeeded(execution)
        x = execution.complexity
        arm.decay(tick, self.config.forgetting)
        arm.post_successes += ok
        arm.post_n += 1
        arm.post_x += x
        arm.post_xx += x * x
        arm.post_xy += x * ok
        arm.total += 1
        arm.window.append(ok)
        arm.window_x.append(x)
        arm.window_successes += ok
        if len(arm.window) > self.config.drift_window:
            old = arm.window.popleft()
            arm.window_x.popleft()
            arm.window_successes -= old
            if arm.quarantine:
                arm.quarantine -= 1
            else:
                arm.older_successes += old
                arm.older_n += 1
        if tick % _SLOPE_TEST_EVERY == 0:
            self._test_slopes(execution.task_type)
        arm.log_duration_sum += math.log(max(execution.duration, _MIN_DURATION))
        arm.duration_n += 1
        if execution.cost is not None and execution.cost >= 0:
            arm.cost_sum += execution.cost
            arm.cost_n += 1
        return self._check_drift(execution, arm)

    def _test_slopes(self, task_type: str) -> None:
        """Mark ``task_type`` as sloped when its agents' slopes differ (see :attr:`sloped`)."""
        if self.config.complexity_prior <= 0 or task_type in self.sloped:
            return
        arms = (self.arms.get((task_type, a)) for a in self._agents_of.get(task_type, ()))
        fits = [_fit(arm) for arm in arms if arm is not None]
        if _differ(fits):
            self.sloped.add(task_type)

    def observe_all(self, executions: Iterable[Execution]) -> None:
        """Replay history (oldest first), e.g. at start."""
        for execution in executions:
            self.observe(execution)

    def rate(self, rating: Feedback) -> float:
        """Learn from a person's rating of an attempt the router observed: the attempt's
        reward becomes ``(1 - w) · success + w · mean score`` of its ratings so far. Returns
        the change to the posterior's success count (0 when the attempt's agent and type
        are unknown, learning is off or the weight is 0)."""
        if not self.config.enabled:
            return 0.0
        if self._recording is not None:
            self._recording.append(rating)
        key = (rating.task_id, rating.attempt)
        total, n = self.ratings.get(key, (0.0, 0))
        self.ratings[key] = (total + rating.score, n + 1)
        arm = self.arms.get((rating.task_type, rating.agent_id))
        weight = self.config.feedback_weight
        if arm is None or weight == 0:
            return 0.0
        before = total / n if n else float(rating.success)
        after = (total + rating.score) / (n + 1)
        arm.decay(self.seen.get(rating.task_type, 0), self.config.forgetting)
        successes, attempts = arm.post_successes, arm.post_n
        moved = min(attempts, max(0.0, successes + weight * (after - before)))
        # the rated attempt's complexity is not known here: the change goes in at the
        # pair's mean complexity, so it moves the pair's level, not its slope
        mean = arm.post_x / attempts if attempts > 0 else 0.0
        arm.post_successes = moved
        arm.post_xy += (moved - successes) * mean
        return moved - successes

    def replay(self, history: Iterable[Execution | Feedback]) -> None:
        """Replay executions and ratings (oldest first, as they happened)."""
        for item in history:
            if isinstance(item, Feedback):
                self.rate(item)
            else:
                self.observe(item)

    def record(self) -> None:
        """Start keeping every execution and rating observed from now on (see
        :meth:`recorded`)."""
        self._recording = []

    def recorded(self) -> list[Execution | Feedback]:
        """What was observed since :meth:`record`; recording stops."""
        taken, self._recording = self._recording or [], None
        return taken

    def adopt(self, rebuilt: Router) -> int:
        """Take over what ``rebuilt`` learned (a router that replayed stored history, e.g.
        in a learning cycle, so executions recorded by other processes count too), keeping
        this router's identity, decision count and alarms; alarms the replay raised that
        are newer than every alarm already known are added. Returns how many were.

        Whatever this router observed after the history was read must have been replayed
        onto ``rebuilt`` too (:meth:`record` / :meth:`recorded`), or it is lost."""
        self.arms = rebuilt.arms
        self.seen = rebuilt.seen
        self.sloped = rebuilt.sloped
        self._agents_of = rebuilt._agents_of
        self.ratings = rebuilt.ratings
        latest = max((a.at for a in self.alarms), default=-math.inf)
        fresh = [a for a in rebuilt.alarms if a.at > latest]
        self.alarms.extend(fresh)
        self.alarms_raised += len(fresh)
        return len(fresh)

    def _check_drift(self, execution: Execution, arm: Arm) -> DriftAlarm | None:
        cfg = self.config
        if len(arm.window) < cfg.drift_window or arm.older_n < cfg.drift_min_history:
            return None
        z = two_proportion_z(
            arm.older_successes, arm.older_n, arm.window_successes, len(arm.window)
        )
        if abs(z) < cfg.drift_z:
            return None
        assert execution.agent_id is not None
        alarm = DriftAlarm(
            task_type=execution.task_type,
            agent_id=execution.agent_id,
            at=execution.finished_at,
            observation=self.seen.get(execution.task_type, 0),
            before_rate=arm.older_successes / arm.older_n,
            before_n=arm.older_n,
            recent_rate=arm.window_successes / len(arm.window),
            recent_n=len(arm.window),
            z=z,
        )
        # the old evidence no longer describes this agent: the posterior restarts from the
        # window, and the window is kept out of the next test's baseline
        arm.older_successes = 0
        arm.older_n = 0
        arm.quarantine = len(arm.window)
        arm.post_successes, arm.post_n = float(arm.window_successes), float(len(arm.window))
        arm.post_x = sum(arm.window_x)
        arm.post_xx = sum(x * x for x in arm.window_x)
        arm.post_xy = sum(x for x, ok in zip(arm.window_x, arm.window, strict=True) if ok)
        arm.tick = self.seen.get(execution.task_type, 0)
        self.alarms.append(alarm)
        self.alarms_raised += 1
        return alarm

    # ------------------------------------------------------------------ choosing
    @property
    def dispatching(self) -> bool:
        """True when the router, not least-loaded, picks agents."""
        return self.config.enabled and self.config.mode is RouterMode.AUTONOMOUS

    def choose(self, task: Task, candidates: Sequence[AgentState]) -> AgentState:
        if not self.dispatching:
            return self._fallback.choose(task, candidates)
        ids = [a.spec.id for a in candidates]
        best = self.pick(task.type, ids, task.complexity)
        return candidates[ids.index(best)]

    def pick(
        self, task_type: str, agent_ids: Sequence[str], complexity: float | None = None
    ) -> str:
        """Thompson sampling over ``agent_ids`` (never empty) for ``task_type``; each draw
        moved to ``complexity`` along the pair's slope (see the module; None: not moved)."""
        if not agent_ids:
            raise ValueError("no candidates to choose from")
        self.decisions += 1
        arms = [self.arms.get((task_type, agent_id)) for agent_id in agent_ids]
        cfg = self.config
        fastest = _smallest(a.duration if a else None for a in arms)
        cheapest = _smallest(a.cost if a else None for a in arms)
        shifts = (
            self._shifts(arms, complexity, task_type)
            if complexity is not None and cfg.complexity_prior > 0
            else None
        )
        best_id, best_utility = agent_ids[0], -math.inf
        for i, (agent_id, arm) in enumerate(zip(agent_ids, arms, strict=True)):
            successes, n = self._evidence(task_type, arm)
            utility = self.rng.betavariate(successes + 1, n - successes + 1)
            if shifts is not None:
                utility += shifts[i]
            if arm is not None:
                utility -= penalty(arm.duration, fastest, cfg.speed_weight(n))
                utility -= penalty(arm.cost, cheapest, cfg.cost_weight)
            if utility > best_utility:
                best_id, best_utility = agent_id, utility
        return best_id

    def _shifts(
        self, arms: Sequence[Arm | None], complexity: float, task_type: str
    ) -> list[float] | None:
        """Per candidate, what its draw moves by at ``complexity`` (None: nothing moves:
        complexity is ignored, the candidates' attempts all had one complexity, or their
        slopes do not differ)."""
        if self.config.complexity_prior <= 0:
            return None
        n = x = sxx = sxy = 0.0
        fits: list[tuple[float, float, float] | None] = []  # (x̄, own slope, its variance)
        for arm in arms:
            if arm is None or arm.post_n <= 0:
                fits.append(None)
                continue
            mean, pair_sxx, pair_sxy = arm.centred()
            n += arm.post_n
            x += arm.post_x
            sxx += pair_sxx
            sxy += pair_sxy
            fits.append(_fit(arm))
        if n <= 0 or sxx <= _TINY * n:
            return None
        spread = math.sqrt(sxx / n)  # within-pair standard deviation of complexity
        floor = (self.config.complexity_prior / spread) ** 2
        # the pooled slope is shrunk towards 0 (no effect), so that a few attempts cannot
        # tilt every draw (0.25: the largest variance of an outcome)
        if task_type not in self.sloped and not _differ(fits):
            return None  # one slope for every candidate changes no ranking
        pooled = (sxy / 0.25) / (sxx / 0.25 + 1 / floor)
        tau2 = floor
        mean_all = x / n
        shifts = []
        for fit in fits:
            if fit is None:
                shifts.append(pooled * (complexity - mean_all))
                continue
            mean, own, variance = fit
            if math.isinf(variance):
                shifts.append(pooled * (complexity - mean))
                continue
            slope = (own / variance + pooled / tau2) / (1 / variance + 1 / tau2)
            shifts.append(slope * (complexity - mean))
        return shifts

    def _evidence(self, task_type: str, arm: Arm | None) -> tuple[float, float]:
        if arm is None:
            return 0.0, 0.0
        return arm.evidence(self.seen.get(task_type, 0), self.config.forgetting)

    # ------------------------------------------------------------------ reading
    def estimate(self, task_type: str, agent_id: str) -> Estimate:
        arm = self.arms.get((task_type, agent_id))
        if arm is None:
            return Estimate(agent_id, 0.5, 0.0, 1.0, 0, None, None)
        successes, n = self._evidence(task_type, arm)
        lower, upper = wilson_interval(successes, n)
        return Estimate(
            agent_id,
            (successes + 1) / (n + 2),
            lower,
            upper,
            round(n),
            arm.duration,
            arm.cost,
        )

    def probability_best(
        self, task_type: str, agent_ids: Sequence[str], draws: int = 2000
    ) -> dict[str, float]:
        """For each agent, the probability that its success rate is the highest among
        ``agent_ids`` under the posteriors (Monte Carlo; ties go to the first drawn).
        Unlike :meth:`pick`, secondary objectives play no part and nothing is counted."""
        if not agent_ids:
            return {}
        wins = dict.fromkeys(agent_ids, 0)
        params = []
        for agent_id in agent_ids:
            s, n = self._evidence(task_type, self.arms.get((task_type, agent_id)))
            params.append((agent_id, s + 1, n - s + 1))
        for _ in range(draws):
            best_id, best = agent_ids[0], -1.0
            for agent_id, a, b in params:
                value = self.rng.betavariate(a, b)
                if value > best:
                    best_id, best = agent_id, value
            wins[best_id] += 1
        return {agent_id: wins[agent_id] / draws for agent_id in agent_ids}

    def rank(self, task_type: str, agent_ids: Iterable[str]) -> list[Estimate]:
        """Estimates for ``agent_ids``, best first: by the lower bound of the success
        interval (a proven agent before a lucky newcomer), then posterior mean, then speed."""
        estimates = [self.estimate(task_type, agent_id) for agent_id in agent_ids]
        return sorted(
            estimates,
            key=lambda e: (
                -e.lower,
                -e.success,
                e.duration if e.duration is not None else math.inf,
                e.agent_id,
            ),
        )


def _fit(arm: Arm) -> tuple[float, float, float]:
    """(mean complexity, least-squares slope, its variance) of a pair with attempts; the
    variance is infinite when its attempts all had one complexity."""
    mean, sxx, sxy = arm.centred()
    if sxx <= _TINY * arm.post_n:
        return mean, 0.0, math.inf
    rate = (arm.post_successes + 1) / (arm.post_n + 2)
    noise = max(rate * (1 - rate), _MIN_NOISE)
    return mean, sxy / sxx, noise / sxx


def _differ(fits: Iterable[tuple[float, float, float] | None]) -> bool:
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


def _smallest(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None and v > 0]
    return min(known) if known else None


def penalty(value: float | None, best: float | None, weight: float) -> float:
    """What a secondary objective (duration, cost) takes off a draw: ``weight`` per
    doubling over the best candidate's value; nothing when either is unknown."""
    if value is None or best is None or weight == 0 or best <= 0:
        return 0.0
    return weight * math.log2(max(value, best) / best)
