"""The :class:`Router`: learns from outcomes and ratings, chooses among candidates, and
reports what it believes (:class:`Estimate`)."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from imperium.domain.feedback import Feedback
from imperium.domain.learning import RouterMode, counts, succeeded
from imperium.domain.models import AgentState, Execution, Task
from imperium.domain.routing.arm import Arm
from imperium.domain.routing.config import RouterConfig
from imperium.domain.routing.drift import DriftAlarm, drift_alarm
from imperium.domain.routing.penalties import _smallest, penalty
from imperium.domain.routing.slopes import _SLOPE_TEST_EVERY, _differ, _fit, shifts
from imperium.domain.selection import LeastLoaded
from imperium.domain.stats import wilson_interval


class BetaRng(Protocol):
    """What the router needs from a random source (``random.Random`` has it)."""

    def betavariate(self, alpha: float, beta: float) -> float: ...


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
        arm = self._arm(execution.task_type, execution.agent_id)
        tick = self.seen[execution.task_type] = self.seen.get(execution.task_type, 0) + 1
        arm.decay(tick, self.config.forgetting)
        arm.add(succeeded(execution), execution.complexity, self.config.drift_window)
        if tick % _SLOPE_TEST_EVERY == 0:
            self._test_slopes(execution.task_type)
        arm.add_usage(execution.duration, execution.cost)
        return self._check_drift(execution, arm)

    def _arm(self, task_type: str, agent_id: str) -> Arm:
        """The pair's arm, made on its first outcome."""
        key = (task_type, agent_id)
        arm = self.arms.get(key)
        if arm is None:
            arm = self.arms[key] = Arm()
            self._agents_of.setdefault(task_type, []).append(agent_id)
        return arm

    def _test_slopes(self, task_type: str) -> None:
        """Mark ``task_type`` as sloped when its agents' slopes differ (see :attr:`sloped`)."""
        if self.config.complexity_prior <= 0 or task_type in self.sloped:
            return
        arms = (self.arms.get((task_type, a)) for a in self._agents_of.get(task_type, ()))
        fits = [_fit(arm) for arm in arms if arm is not None]
        if _differ(fits):
            self.sloped.add(task_type)

    def _check_drift(self, execution: Execution, arm: Arm) -> DriftAlarm | None:
        assert execution.agent_id is not None
        tick = self.seen.get(execution.task_type, 0)
        alarm = drift_alarm(
            arm, self.config, execution.task_type, execution.agent_id, execution.finished_at, tick
        )
        if alarm is None:
            return None
        arm.restart(tick)
        self.alarms.append(alarm)
        self.alarms_raised += 1
        return alarm

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
        return arm.reweigh(weight * (after - before))

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
        moved to ``complexity`` along the pair's slope (see :mod:`.slopes`; None: not
        moved)."""
        if not agent_ids:
            raise ValueError("no candidates to choose from")
        self.decisions += 1
        arms = [self.arms.get((task_type, agent_id)) for agent_id in agent_ids]
        fastest = _smallest(a.duration if a else None for a in arms)
        cheapest = _smallest(a.cost if a else None for a in arms)
        moves = self._shifts(arms, complexity, task_type)
        best_id, best_utility = agent_ids[0], -math.inf
        for i, (agent_id, arm) in enumerate(zip(agent_ids, arms, strict=True)):
            shift = moves[i] if moves is not None else None
            utility = self._utility(task_type, arm, shift, fastest, cheapest)
            if utility > best_utility:
                best_id, best_utility = agent_id, utility
        return best_id

    def _shifts(
        self, arms: Sequence[Arm | None], complexity: float | None, task_type: str
    ) -> list[float] | None:
        """Per candidate, what its draw moves by at ``complexity`` (None: nothing moves)."""
        prior = self.config.complexity_prior
        if complexity is None or prior <= 0:
            return None
        return shifts(arms, complexity, prior, task_type in self.sloped)

    def _utility(
        self,
        task_type: str,
        arm: Arm | None,
        shift: float | None,
        fastest: float | None,
        cheapest: float | None,
    ) -> float:
        """One candidate's Beta draw, moved by ``shift``, less its duration and cost
        penalties against the ``fastest`` and ``cheapest`` candidates'."""
        successes, n = self._evidence(task_type, arm)
        utility = self.rng.betavariate(successes + 1, n - successes + 1)
        if shift is not None:
            utility += shift
        if arm is not None:
            utility -= penalty(arm.duration, fastest, self.config.speed_weight(n))
            utility -= penalty(arm.cost, cheapest, self.config.cost_weight)
        return utility

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
