"""Team tasks: one task given to a team of k different agents at once, and what the router
learns about combinations of agents.

A team task runs as one member task per agent (same payload, pinned to that agent, each
with its own attempts and retries; grouped as one workflow whose id is the team's). The
team succeeds when at least ``quorum`` members succeeded (all of them by default) and
ends when every member has ended.

The router learns per (task type, set of agents, quorum): a Beta posterior whose prior
comes from the members' own posteriors — mean = the probability that at least ``quorum``
of them succeed if they succeeded independently with their posterior means (the product
of the means when all must), worth ``prior_strength`` outcomes — updated by the team's
recorded outcomes. Teams are chosen by Thompson sampling over the combinations of able
agents, so an untried combination of good agents is tried, and a combination that fails
together more than its members' records predict is avoided. Duration and cost come
second, as for single agents: a team takes as long as its slowest member and costs what
its members cost together.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import combinations, islice

from imperium.domain.routing import Router, penalty
from imperium.domain.states import TaskState
from imperium.domain.stats import wilson_interval

MIN_SIZE = 2
MAX_SIZE = 8
MAX_COMBINATIONS = 256
"""Above this many combinations, teams are drawn from a shortlist of the agents that
individually drew best (size + 3 of them)."""


class TeamState(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class TeamRun:
    """A team task: its members (sorted), their tasks (in the same order) and its end."""

    team_id: str
    task_type: str
    members: tuple[str, ...]
    task_ids: tuple[str, ...]
    quorum: int
    chosen_by: str  # "router", "least_loaded" or "user"
    created_at: float
    state: TeamState = TeamState.RUNNING
    finished_at: float | None = None
    member_states: Mapping[str, str] = field(default_factory=dict)
    results: Mapping[str, object] = field(default_factory=dict)
    """Each member's result (an error text for a member that did not succeed)."""

    @property
    def succeeded_members(self) -> int:
        return sum(1 for s in self.member_states.values() if s == TaskState.SUCCEEDED.value)


def team_state(states: Iterable[TaskState], quorum: int) -> TeamState | None:
    """The team's end once every member task has ended (None while one has not)."""
    states = list(states)
    if any(not s.is_terminal for s in states):
        return None
    wins = sum(1 for s in states if s is TaskState.SUCCEEDED)
    return TeamState.SUCCEEDED if wins >= quorum else TeamState.FAILED


def check_team_request(size: int, quorum: int | None, able: Sequence[str]) -> int:
    """The quorum to use; ValueError with what to change for an impossible request."""
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise ValueError(f"a team has {MIN_SIZE} to {MAX_SIZE} members, not {size}")
    if quorum is None:
        quorum = size
    if not 1 <= quorum <= size:
        raise ValueError(f"the quorum is 1 to the team size ({size}), not {quorum}")
    able = sorted(set(able))
    if len(able) < size:
        names = ", ".join(able) or "none"
        raise ValueError(
            f"a team of {size} needs {size} different active agents able to take it; "
            f"{len(able)} can ({names}): register more or ask for a smaller team"
        )
    return quorum


@dataclass(frozen=True, slots=True)
class TeamEstimate:
    """What the router knows about one combination of agents on one task type."""

    members: tuple[str, ...]
    quorum: int
    success: float
    """Posterior mean (prior from the members' own records, plus the team's outcomes)."""
    prior: float
    """P(at least ``quorum`` members succeed) from the members' own success means."""
    lower: float
    upper: float
    """95% Wilson interval of the team's observed success rate ((0, 1) with no data)."""
    samples: int


class TeamRouter:
    """Chooses teams and learns from their outcomes (see the module docstring). Reads the
    members' own posteriors from ``router``, the router the engine uses."""

    def __init__(self, router: Router, prior_strength: float = 2.0) -> None:
        if not prior_strength > 0:
            raise ValueError(f"prior_strength must be > 0, not {prior_strength}")
        self.router = router
        self.prior_strength = prior_strength
        # (task type, sorted members, quorum) -> [wins, runs]
        self.outcomes: dict[tuple[str, tuple[str, ...], int], list[int]] = {}

    def observe(self, run: TeamRun) -> None:
        """Learn from a team that ended (a running one teaches nothing; nor anything while
        learning is disabled)."""
        if run.state is TeamState.RUNNING or not self.router.config.enabled:
            return
        key = (run.task_type, tuple(sorted(run.members)), run.quorum)
        wins_runs = self.outcomes.setdefault(key, [0, 0])
        wins_runs[0] += run.state is TeamState.SUCCEEDED
        wins_runs[1] += 1

    def observe_all(self, runs: Iterable[TeamRun]) -> None:
        for run in runs:
            self.observe(run)

    def _params(
        self, task_type: str, members: tuple[str, ...], quorum: int
    ) -> tuple[float, float, float]:
        """(alpha, beta, prior mean) of the team's posterior."""
        means = [self.router.estimate(task_type, m).success for m in members]
        prior = at_least(quorum, means)
        wins, runs = self.outcomes.get((task_type, members, quorum), (0, 0))
        strength = self.prior_strength
        return strength * prior + wins, strength * (1 - prior) + runs - wins, prior

    def choose(
        self, task_type: str, agent_ids: Sequence[str], size: int, quorum: int | None = None
    ) -> tuple[str, ...]:
        """Thompson sampling over the teams of ``size`` among ``agent_ids`` (sorted) that
        need ``quorum`` successes (all, by default)."""
        quorum = size if quorum is None else quorum
        if not 1 <= quorum <= size:
            raise ValueError(f"a team of {size} needs a quorum of 1 to {size}, not {quorum}")
        pool = sorted(set(agent_ids))
        if len(pool) < size:
            raise ValueError(f"{len(pool)} agents cannot make a team of {size}")
        if math.comb(len(pool), size) > MAX_COMBINATIONS:
            draws = {a: self._draw_member(task_type, a) for a in pool}
            pool = sorted(sorted(pool, key=lambda a: -draws[a])[: size + 3])
        teams = list(islice(combinations(pool, size), MAX_COMBINATIONS))
        # secondary objectives, as for single agents: a team takes as long as its slowest
        # member and costs what its members cost together
        durations = [self._slowest(task_type, team) for team in teams]
        costs = [self._cost(task_type, team) for team in teams]
        fastest = min((d for d in durations if d is not None and d > 0), default=None)
        cheapest = min((c for c in costs if c is not None and c > 0), default=None)
        cfg = self.router.config
        self.router.decisions += 1
        best: tuple[str, ...] = teams[0]
        best_value = -math.inf
        for team, duration, cost in zip(teams, durations, costs, strict=True):
            alpha, beta, _ = self._params(task_type, team, quorum)
            value = self.router.rng.betavariate(alpha, beta)
            runs = self.outcomes.get((task_type, team, quorum), (0, 0))[1]
            value -= penalty(duration, fastest, cfg.speed_weight(runs))
            value -= penalty(cost, cheapest, cfg.cost_weight)
            if value > best_value:
                best, best_value = team, value
        return best

    def _slowest(self, task_type: str, team: tuple[str, ...]) -> float | None:
        """The slowest member's typical duration (None unless every member has one)."""
        durations = [self.router.estimate(task_type, m).duration for m in team]
        known = [d for d in durations if d is not None]
        return max(known) if len(known) == len(durations) else None

    def _cost(self, task_type: str, team: tuple[str, ...]) -> float | None:
        costs = [self.router.estimate(task_type, m).cost for m in team]
        known = [c for c in costs if c is not None]
        return sum(known) if len(known) == len(costs) else None

    def _draw_member(self, task_type: str, agent_id: str) -> float:
        estimate = self.router.estimate(task_type, agent_id)
        successes = estimate.success * (estimate.samples + 2) - 1
        return self.router.rng.betavariate(successes + 1, estimate.samples - successes + 1)

    def estimate(
        self, task_type: str, members: Iterable[str], quorum: int | None = None
    ) -> TeamEstimate:
        team = tuple(sorted(members))
        quorum = len(team) if quorum is None else quorum
        alpha, beta, prior = self._params(task_type, team, quorum)
        wins, runs = self.outcomes.get((task_type, team, quorum), (0, 0))
        lower, upper = wilson_interval(wins, runs)
        return TeamEstimate(team, quorum, alpha / (alpha + beta), prior, lower, upper, runs)

    def rank(
        self, task_type: str, agent_ids: Sequence[str], size: int, quorum: int | None = None
    ) -> list[TeamEstimate]:
        """The teams of ``size`` among ``agent_ids``, most likely to succeed first (posterior
        mean, then the slowest member's typical duration): what ``recommend`` mode shows
        (nothing is drawn or counted). Above MAX_COMBINATIONS, teams of the size + 3
        agents with the best own success means."""
        pool = sorted(set(agent_ids))
        if len(pool) < size:
            raise ValueError(f"{len(pool)} agents cannot make a team of {size}")
        if math.comb(len(pool), size) > MAX_COMBINATIONS:
            mean = {a: self.router.estimate(task_type, a).success for a in pool}
            pool = sorted(sorted(pool, key=lambda a: (-mean[a], a))[: size + 3])
        teams = islice(combinations(pool, size), MAX_COMBINATIONS)
        ranked = [(self.estimate(task_type, t, quorum), self._slowest(task_type, t)) for t in teams]
        ranked.sort(
            key=lambda r: (-r[0].success, r[1] if r[1] is not None else math.inf, r[0].members)
        )
        return [estimate for estimate, _ in ranked]

    def known(self, task_type: str | None = None) -> list[tuple[str, TeamEstimate]]:
        """Every combination with recorded outcomes, best first (by the lower bound of
        its observed success, then the posterior mean): (task type, estimate)."""
        found = [
            (kind, self.estimate(kind, team, quorum))
            for kind, team, quorum in self.outcomes
            if task_type is None or kind == task_type
        ]
        return sorted(found, key=lambda f: (-f[1].lower, -f[1].success, f[0], f[1].members))


def at_least(quorum: int, probabilities: Sequence[float]) -> float:
    """P(at least ``quorum`` successes) among independent trials with these success
    probabilities (the Poisson binomial distribution's upper tail)."""
    exactly = [1.0]  # exactly[j]: probability of j successes among the trials so far
    for p in probabilities:
        step = [0.0] * (len(exactly) + 1)
        for j, q in enumerate(exactly):
            step[j] += q * (1 - p)
            step[j + 1] += q * p
        exactly = step
    return min(1.0, max(0.0, sum(exactly[quorum:])))
