"""Insights about combinations of agents from recorded team tasks: thresholds, confidences
from Wilson bounds, the member that most often let a failed team down, and a learning
cycle that finds them beside the single-agent insights."""

from __future__ import annotations

import random

import pytest

from imperium.adapters.storage.memory import MemoryStore, MemoryTeamStore
from imperium.domain.insights import InsightThresholds
from imperium.domain.learning import InsightType
from imperium.domain.prediction import PairRates
from imperium.domain.routing import Router
from imperium.domain.stats import wilson_interval
from imperium.domain.team_insights import team_insights
from imperium.domain.teams import TeamRun, TeamState
from imperium.services.learning.service import Learner, LearnerConfig

NOW = 1_700_000_000.0


class Clock:
    def __init__(self) -> None:
        self.t = NOW + 100

    def now(self) -> float:
        self.t += 1.0
        return self.t


def runs(
    members: tuple[str, ...], wins: int, losses: int, *, quorum: int | None = None,
    letdown: str | None = None, task_type: str = "review",
) -> list[TeamRun]:  # fmt: skip
    out = []
    for i in range(wins + losses):
        ok = i < wins
        states = {m: "succeeded" for m in members}
        if not ok:
            states[letdown or members[-1]] = "dead"
        out.append(
            TeamRun(
                team_id=f"{'-'.join(members)}-{quorum}-{i}",
                task_type=task_type,
                members=members,
                task_ids=tuple(f"t{i}{m}" for m in members),
                quorum=len(members) if quorum is None else quorum,
                chosen_by="router",
                created_at=NOW + i,
                state=TeamState.SUCCEEDED if ok else TeamState.FAILED,
                finished_at=NOW + i + 1,
                member_states=states,
            )
        )
    return out


def test_a_combination_that_works_is_a_best_combo_with_a_wilson_confidence() -> None:
    [best] = team_insights(runs(("b", "a"), 18, 2), NOW)
    assert best.insight_type is InsightType.BEST_COMBO
    assert best.agents == ("a", "b")
    assert best.sample_size == 20
    assert best.confidence == pytest.approx(wilson_interval(18, 20)[0])
    assert "agent combination [a, b] succeeds on 90% of review team tasks (18 of 20)" in (
        best.description
    )
    assert best.data["quorum"] == 2


def test_a_combination_that_fails_is_to_avoid_naming_who_let_it_down() -> None:
    [avoid] = team_insights(runs(("a", "bad"), 1, 5, letdown="bad"), NOW)
    assert avoid.insight_type is InsightType.AVOID_PATTERN
    assert avoid.agents == ("a", "bad")
    assert avoid.confidence == pytest.approx(wilson_interval(5, 6)[0])
    assert "avoid combination [a, bad] for review: the team fails 83% (5 of 6)" in (
        avoid.description
    )
    assert avoid.data["most_common_error"] == {"member": "bad", "state": "dead", "count": 5}


def test_thresholds_hold_and_quorums_are_separate_combinations() -> None:
    assert team_insights(runs(("a", "b"), 9, 0), NOW) == []  # fewer than 10 runs
    assert team_insights(runs(("a", "b"), 15, 5), NOW) == []  # 75% < 80%
    assert team_insights(runs(("a", "b"), 2, 2), NOW) == []  # fewer than 5 runs
    mixed = runs(("a", "b"), 10, 0, quorum=1) + runs(("a", "b"), 0, 5)
    found = {(i.insight_type, i.data["quorum"]) for i in team_insights(mixed, NOW)}
    assert found == {(InsightType.BEST_COMBO, 1), (InsightType.AVOID_PATTERN, 2)}
    needing = [i for i in team_insights(mixed, NOW) if i.data["quorum"] == 1]
    assert "needing 1 of 2" in needing[0].description
    looser = InsightThresholds(best_min_samples=5)
    assert len(team_insights(runs(("a", "b"), 5, 0), NOW, looser)) == 1


def test_running_teams_teach_nothing_and_the_order_is_most_confident_first() -> None:
    still = TeamRun("x", "review", ("a", "b"), ("1", "2"), 2, "router", NOW, TeamState.RUNNING)
    assert team_insights([still] * 20, NOW) == []
    found = team_insights(
        runs(("a", "b"), 10, 0) + runs(("c", "d"), 50, 0) + runs(("e", "f"), 0, 9), NOW
    )
    confidences = [i.confidence for i in found]
    assert confidences == sorted(confidences, reverse=True)
    assert found[0].agents == ("c", "d")  # 50 of 50 is the surest
    assert {i.agents for i in found} == {("a", "b"), ("c", "d"), ("e", "f")}


async def test_a_learning_cycle_finds_combination_insights_beside_the_others() -> None:
    store, teams = MemoryStore(), MemoryTeamStore()
    for run in runs(("a", "b"), 12, 0) + runs(("a", "bad"), 0, 6, letdown="bad"):
        await teams.insert_team(run)
    learner = Learner(
        store, Clock(), lambda: "cycle-1", Router(random.Random(1)), PairRates,
        config=LearnerConfig(),
    )  # fmt: skip
    learner.teams = teams
    cycle = await learner.run_cycle()
    assert cycle.insights_generated == 2
    assert cycle.metadata["insight_types"] == {"best_combo": 1, "avoid_pattern": 1}
    saved = await store.list_insights(10, cycle_id=cycle.cycle_id)
    assert {(i.insight_type, i.agents) for i in saved} == {
        (InsightType.BEST_COMBO, ("a", "b")),
        (InsightType.AVOID_PATTERN, ("a", "bad")),
    }
