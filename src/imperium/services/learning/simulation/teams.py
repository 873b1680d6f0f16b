"""Team tasks in a simulation (the scenario's ``teams``): after the single tasks, the
policy picks teams for ``share * tasks`` team tasks, one at a time; each member's attempt
is an execution the router learns from (as the engine's member tasks are), and the team's
outcome teaches the team router (:class:`~imperium.domain.teams.TeamRouter`, for
``learned``). Team regret = the best team's true success among the able agents - the
chosen team's.

The team tasks draw from their own random stream (``"{seed}:teams"``: per task its type,
complexity and one uniform per member), so adding teams to a scenario does not change
its single tasks, and every policy faces the same team tasks with the same luck.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass, field
from itertools import combinations

from imperium.domain.errors import ValidationError
from imperium.domain.models import Execution
from imperium.domain.routing import Router
from imperium.domain.scenario import Scenario, Teams
from imperium.domain.states import Outcome
from imperium.domain.teams import TeamRouter, TeamRun, TeamState

MAX_TEAMS = 5000
"""Above this many possible teams for a type, the simulation refuses (the oracle and the
regret enumerate them all)."""


@dataclass(slots=True)
class TeamRecord:
    tasks: int = 0
    successes: int = 0
    expected: float = 0.0
    best: float = 0.0
    chosen: Counter[str] = field(default_factory=Counter)

    def as_json(self, teams: Teams) -> dict[str, object]:
        return {
            "tasks": self.tasks,
            "size": teams.size,
            "quorum": teams.quorum,
            "successes": self.successes,
            "success_rate": round(self.successes / self.tasks, 6) if self.tasks else None,
            "expected_reward": round(self.expected, 6),
            "oracle_expected_reward": round(self.best, 6),
            "regret": round(self.best - self.expected, 6),
            "regret_per_task": round((self.best - self.expected) / self.tasks, 6)
            if self.tasks
            else None,
            "most_chosen": [{"team": team, "tasks": n} for team, n in self.chosen.most_common(5)],
        }


def simulate_teams(
    scenario: Scenario,
    router: Router,
    *,
    policy: str,
    seed: int,
    count: int,
    start: float,
    index: int,
) -> TeamRecord:
    """Run ``count`` team tasks of ``scenario`` under ``policy``; members' executions go to
    ``router`` and finish one second apart from ``start`` (simulated seconds); the truth
    is the scenario's at task ``index`` (drift in force then)."""
    teams = scenario.teams
    assert teams is not None
    env = random.Random(f"{seed}:teams")
    rng = random.Random(f"{seed}:teams:policy")
    team_router = TeamRouter(router)
    greedy: dict[tuple[str, tuple[str, ...]], list[int]] = {}
    weights = [scenario.task_type(t).weight for t in teams.task_types]
    able = {t: tuple(sorted(a.id for a in scenario.capable_agents(t))) for t in teams.task_types}
    for kind, ids in able.items():
        if math.comb(len(ids), teams.size) > MAX_TEAMS:
            raise ValidationError(
                f"teams: {math.comb(len(ids), teams.size)} possible teams of {teams.size} for "
                f"{kind!r}, more than the simulation enumerates ({MAX_TEAMS}); use smaller teams"
            )
    possible = {t: list(combinations(ids, teams.size)) for t, ids in able.items()}
    record = TeamRecord()
    now = start
    for n in range(count):
        kind = env.choices(teams.task_types, weights)[0]
        complexity = env.uniform(scenario.complexity.min, scenario.complexity.max)
        luck = [env.random() for _ in range(teams.size)]
        options = possible[kind]
        truth = {team: scenario.team_success(team, kind, complexity, index) for team in options}
        if policy == "learned":
            team = team_router.choose(kind, able[kind], teams.size, teams.quorum)
        elif policy == "greedy":
            rates = {t: _rate(greedy.get((kind, t))) for t in options}
            top = max(rates.values())
            team = rng.choice([t for t in options if rates[t] == top])
        elif policy == "random":
            team = rng.choice(options)
        else:
            team = min(options, key=lambda t: (-truth[t], t))
        effect = teams.effect(kind, frozenset(team))
        wins = 0
        for member, u in zip(team, luck, strict=True):
            p = scenario.true_success(member, kind, complexity, index) + effect
            ok = u < min(1.0, max(0.0, p))
            wins += ok
            router.observe(
                Execution(
                    task_id=f"team-{n}-{member}",
                    attempt=1,
                    agent_id=member,
                    task_type=kind,
                    complexity=complexity,
                    started_at=now,
                    finished_at=now + 1.0,
                    outcome=Outcome.SUCCEEDED if ok else Outcome.FAILED,
                    lease_token=1,
                )
            )
        success = wins >= teams.quorum
        now += 1.0
        team_router.observe(
            TeamRun(
                team_id=f"team-{n}",
                task_type=kind,
                members=team,
                task_ids=tuple(f"team-{n}-{m}" for m in team),
                quorum=teams.quorum,
                chosen_by="router",
                created_at=now,
                state=TeamState.SUCCEEDED if success else TeamState.FAILED,
                finished_at=now,
            )
        )
        tally = greedy.setdefault((kind, team), [0, 0])
        tally[0] += success
        tally[1] += 1
        record.tasks += 1
        record.successes += success
        record.expected += truth[team]
        record.best += max(truth.values())
        record.chosen["+".join(team)] += 1
    return record


def _rate(tally: list[int] | None) -> float:
    """The observed success rate of a team (0 when never tried: the seed's greedy)."""
    return tally[0] / tally[1] if tally else 0.0
