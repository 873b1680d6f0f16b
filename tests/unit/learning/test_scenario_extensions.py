"""The scenario format's optional extensions (a skill's own complexity slope, team tasks),
team tasks in the simulator, and the predictor forgetting a pair's old regime after a
drift alarm."""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from imperium.domain.errors import ValidationError
from imperium.domain.learning import ModelReport, Prediction, Query
from imperium.domain.models import Execution
from imperium.domain.prediction import PairRates, since_drift
from imperium.domain.routing import DriftAlarm
from imperium.domain.scenario import parse_scenario
from imperium.domain.states import Outcome
from imperium.domain.teams import at_least
from imperium.services.learning.simulation import simulate
from imperium.services.learning.simulation.run import _refit_due

SCENARIOS = Path(__file__).resolve().parents[3] / "scenarios"


def base() -> dict[str, Any]:
    """Two task types; on code, A is best on easy tasks and C on hard ones."""
    return {
        "name": "ext",
        "load": 0.3,
        "task_types": {"code": {"weight": 0.7}, "docs": {"weight": 0.3}},
        "agents": [
            {
                "id": "A",
                "capabilities": ["code", "docs"],
                "max_concurrency": 20,
                "skills": {
                    "code": {"success": 0.95, "success_slope": -0.2, "duration_mean": 5},
                    "docs": {"success": 0.8, "duration_mean": 5},
                },
            },
            {
                "id": "B",
                "capabilities": ["code", "docs"],
                "max_concurrency": 20,
                "skills": {
                    "code": {"success": 0.9, "duration_mean": 5},
                    "docs": {"success": 0.7, "duration_mean": 5},
                },
            },
            {
                "id": "C",
                "capabilities": ["code", "docs"],
                "max_concurrency": 20,
                "skills": {
                    "code": {"success": 0.6, "success_slope": 0.05, "duration_mean": 5},
                    "docs": {"success": 0.75, "duration_mean": 5},
                },
            },
        ],
        "complexity": {"min": 1, "max": 5, "success_slope": -0.05},
    }


def with_teams(**teams: Any) -> dict[str, Any]:
    data = base()
    data["teams"] = {
        "share": 0.5,
        "size": 2,
        "effects": [
            {"members": ["A", "B"], "effect": -0.5},
            {"members": ["B", "C"], "effect": 0.1, "task_type": "code"},
        ],
        **teams,
    }
    return data


# ---------------------------------------------------------------------- the format
def test_a_skill_slope_overrides_the_common_one_and_can_reverse_the_best() -> None:
    s = parse_scenario(base())
    assert s.true_success("A", "code", 1, 0) == pytest.approx(0.95)
    assert s.true_success("A", "code", 5, 0) == pytest.approx(0.15)
    assert s.true_success("C", "code", 5, 0) == pytest.approx(0.8)
    assert s.true_success("B", "code", 5, 0) == pytest.approx(0.7)  # the common slope
    best = {c: max("ABC", key=lambda a: s.true_success(a, "code", c, 0)) for c in (1, 5)}
    assert best == {1: "A", 5: "C"}


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.json")), ids=lambda p: p.stem)
def test_every_shipped_file_loads_old_format_ones_without_the_new_keys(path: Path) -> None:
    s = parse_scenario(json.loads(path.read_text()), path.stem)
    if path.stem in {"basic", "drift", "heterogeneous", "upgrade"}:
        assert s.teams is None
        assert all(k.success_slope is None for a in s.agents for k in a.skills.values())


def test_the_richer_shipped_scenarios_are_what_they_claim() -> None:
    reversal = parse_scenario(json.loads((SCENARIOS / "reversal.json").read_text()))
    assert len(reversal.agents) > len(reversal.task_types)
    for kind in ("code", "plan"):
        able = [a.id for a in reversal.capable_agents(kind)]
        lo, hi = reversal.complexity.min, reversal.complexity.max

        def best(c: float, kind: str = kind, able: list[str] = able) -> str:
            return max(able, key=lambda agent: reversal.true_success(agent, kind, c, 0))

        assert best(lo) != best(hi)
    teams = parse_scenario(json.loads((SCENARIOS / "teams.json").read_text()))
    assert teams.teams is not None
    assert {e.effect > 0 for e in teams.teams.effects} == {True, False}


def test_team_success_adds_the_combination_effect_to_each_member() -> None:
    s = parse_scenario(with_teams())
    a, b = s.true_success("A", "code", 1, 0), s.true_success("B", "code", 1, 0)
    assert s.team_success(("A", "B"), "code", 1, 0) == pytest.approx((a - 0.5) * (b - 0.5))
    c = s.true_success("C", "code", 1, 0)
    assert s.team_success(("B", "C"), "code", 1, 0) == pytest.approx((b + 0.1) * (c + 0.1))
    # the effect is for code only
    b, c = s.true_success("B", "docs", 1, 0), s.true_success("C", "docs", 1, 0)
    assert s.team_success(("B", "C"), "docs", 1, 0) == pytest.approx(b * c)
    quorum = parse_scenario(with_teams(quorum=1))
    assert quorum.team_success(("B", "C"), "docs", 1, 0) == pytest.approx(at_least(1, [b, c]))


def _bad(path: str, value: object) -> dict[str, Any]:
    data = copy.deepcopy(with_teams())
    *parents, last = path.split(".")
    node: Any = data
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    node[last] = value
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_bad("teams.size", 4), "only 3 agents can take 'code', too few for teams of 4"),
        (_bad("teams.size", 1), "teams.size must be 2 to 8, got 1"),
        (_bad("teams.quorum", 3), "teams.quorum must be 1 to teams.size (2), got 3"),
        (_bad("teams.share", 0), "teams.share must be in (0, 1]"),
        (_bad("teams.task_types", ["tests"]), "teams.task_types: unknown task type 'tests'"),
        (_bad("teams.task_types", []), "teams.task_types must be a non-empty list"),
        (_bad("teams.effects.0.members", ["A", "Z"]), "unknown agent(s) 'Z'"),
        (_bad("teams.effects.0.members", ["A"]), "a combination has at least two agents"),
        (_bad("teams.effects.0.effect", 2), "teams.effects[0].effect must be in [-1, 1]"),
        (_bad("teams.effects.0.task_type", "x"), "teams.effects[0].task_type: unknown task"),
        (_bad("teams.effects.0.boost", 1), "teams.effects[0]: unknown key 'boost'"),
        (_bad("teams.effects", {}), "teams.effects must be a list of objects"),
        (_bad("teams.mode", "x"), "teams: unknown key 'mode'"),
        (_bad("teams", []), "teams must be a JSON object, got a list"),
        (
            _bad("agents.0.skills.code.success_slope", "steep"),
            "agents[0].skills.code.success_slope must be a number, got the string 'steep'",
        ),
    ],
)
def test_bad_extensions_are_refused_with_the_path_and_the_fix(
    data: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_scenario(data)
    assert message in str(caught.value)


# ---------------------------------------------------------------------- team tasks
def test_team_tasks_report_regret_against_the_best_team() -> None:
    s = parse_scenario(with_teams())
    runs = {p: simulate(s, tasks=400, policy=p, seed=2) for p in ("learned", "random", "oracle")}
    teams = {p: r.as_json()["teams"] for p, r in runs.items()}
    for out in teams.values():
        assert isinstance(out, dict)
        assert out["tasks"] == 200
        assert out["regret"] == pytest.approx(
            out["oracle_expected_reward"] - out["expected_reward"], abs=1e-5
        )
    assert teams["oracle"]["regret"] == pytest.approx(0.0, abs=1e-9)
    assert teams["learned"]["regret"] < 0.5 * teams["random"]["regret"]
    # the clashing pair (A and B, each good alone) is learned to be avoided
    learned = {t["team"]: t["tasks"] for t in teams["learned"]["most_chosen"]}
    assert learned.get("A+B", 0) < 0.15 * 200
    # team tasks come after the single tasks: those are measured as without teams
    alone = simulate(parse_scenario(base()), tasks=400, policy="learned", seed=2)
    assert runs["learned"].regret == pytest.approx(alone.regret)
    assert alone.as_json()["teams"] is None


def test_team_simulation_is_deterministic() -> None:
    s = parse_scenario(with_teams())
    first = simulate(s, tasks=200, policy="learned", seed=5).as_json()["teams"]
    assert simulate(s, tasks=200, policy="learned", seed=5).as_json()["teams"] == first


# ---------------------------------------------------------------------- drift forgetting
def _run(pair: tuple[str, str], outcomes: list[bool], start: int = 0) -> list[Execution]:
    return [
        Execution(
            task_id=f"{pair[1]}{start + i}",
            attempt=1,
            agent_id=pair[1],
            task_type=pair[0],
            complexity=1.0,
            started_at=float(start + i),
            finished_at=float(start + i) + 0.5,
            outcome=Outcome.SUCCEEDED if ok else Outcome.FAILED,
            lease_token=1,
        )
        for i, ok in enumerate(outcomes)
    ]


def _alarm(at: float, recent_n: int) -> DriftAlarm:
    return DriftAlarm("code", "A", at, 0, 0.9, 100, 0.4, recent_n, -6.0)


def test_since_drift_keeps_only_the_alarm_window_and_later_of_that_pair() -> None:
    a = _run(("code", "A"), [True] * 100 + [False] * 20 + [True, False] * 5)
    b = _run(("code", "B"), [True] * 50)
    kept = since_drift([*a, *b], [_alarm(a[119].finished_at, 10)])
    assert [e for e in kept if e.agent_id == "B"] == b  # other pairs untouched
    assert [e for e in kept if e.agent_id == "A"] == a[110:]
    assert since_drift(a, []) == a


def test_after_an_alarm_the_predictor_forgets_the_old_regime() -> None:
    a = _run(("code", "A"), [True] * 200 + [False, False, True] * 20)
    alarm = _alarm(a[239].finished_at, 40)
    fresh = PairRates()
    fresh.fit(since_drift(a, [alarm]), now=1e6)
    stale = PairRates()
    stale.fit(a, now=1e6)
    query = [Query("code", 1.0, "A")]
    assert fresh.predict(query)[0].success < 0.45  # about 1/3 now
    assert stale.predict(query)[0].success > 0.8


class Fits:
    """A predictor that records how many executions of the drifted pair each fit saw."""

    seen: list[tuple[int, int]] = []

    def __init__(self) -> None:
        self.inner = PairRates()
        self.report: ModelReport | None = None

    def fit(self, executions: Sequence[Execution], now: float) -> ModelReport:
        pair = [e for e in executions if e.agent_id == "A" and e.task_type == "t"]
        Fits.seen.append((len(executions), len(pair)))
        self.report = self.inner.fit(executions, now)
        return self.report

    def predict(self, queries: Sequence[Query]) -> list[Prediction]:
        return self.inner.predict(queries)


def test_the_simulator_refits_at_the_alarm_without_the_old_regime() -> None:
    data = {
        "load": 0.2,
        "task_types": {"t": {}},
        "agents": [
            {"id": "A", "capabilities": ["t"], "max_concurrency": 20,
             "skills": {"t": {"success": 0.95, "duration_mean": 1}}},
            {"id": "B", "capabilities": ["t"], "max_concurrency": 20,
             "skills": {"t": {"success": 0.7, "duration_mean": 1}}},
        ],
        "drift": [{"agent": "A", "after_task": 600, "task_type": "t", "success": 0.2}],
    }  # fmt: skip
    Fits.seen = []
    result = simulate(
        parse_scenario(data), tasks=900, policy="learned", seed=1, make_predictor=Fits,
        retrain_every=10_000,
    )  # fmt: skip
    assert [d.delay_tasks is not None for d in result.detected] == [True]
    at = [m["at_task"] for m in result.models]
    # early refits (retrain_every: 10,000): every 8 up to 256, 16 up to 512, then 32
    scheduled = [0, *range(8, 256, 8), *range(256, 512, 16), *range(512, 900, 32)]
    assert [d for d in range(2000, 3000) if _refit_due(d, 10_000)] == []  # none after 1,024
    extra = list(at)
    for due in scheduled:
        extra.remove(due)
    assert extra == [result.detected[0].at_task]  # and once at the alarm
    alarm_fit = at.index(extra[0], at.index(extra[0]) + (extra[0] in scheduled))
    total, pair = Fits.seen[alarm_fit]
    before_total, before_pair = Fits.seen[alarm_fit - 1]  # the fit before, on the old regime
    assert before_pair > 400
    assert pair <= 50  # only the alarm's window of A's attempts is left (drift_window)
    assert total - pair >= before_total - before_pair  # B's attempts all remain


def test_pair_rates_follow_complexity_and_nothing_moves_at_one_complexity() -> None:
    executions = [
        Execution(
            task_id=f"t{i}", attempt=1, agent_id="A", task_type="code",
            complexity=1.0 + i % 5, started_at=float(i), finished_at=i + 0.5,
            outcome=Outcome.SUCCEEDED if (i * 7919) % 100 < 95 - 20 * (i % 5) else Outcome.FAILED,
            lease_token=1,
        )
        for i in range(500)
    ]  # fmt: skip
    rates = PairRates()
    rates.fit(executions, now=1e6)
    easy, hard = rates.predict([Query("code", 1.0, "A"), Query("code", 5.0, "A")])
    assert easy.success > 0.85
    assert hard.success < 0.3
    plain = PairRates(complexity=False)
    plain.fit(executions, now=1e6)
    a, b = plain.predict([Query("code", 1.0, "A"), Query("code", 5.0, "A")])
    assert a.success == b.success
    flat = [
        Execution(
            task_id=e.task_id, attempt=1, agent_id="A", task_type="code", complexity=2.0,
            started_at=e.started_at, finished_at=e.finished_at, outcome=e.outcome,
            lease_token=1,
        )
        for e in executions
    ]  # fmt: skip
    rates.fit(flat, now=1e6)
    plain.fit(flat, now=1e6)
    assert rates.predict([Query("code", 4.0, "A")]) == plain.predict([Query("code", 4.0, "A")])


def test_a_learning_cycle_fits_the_predictor_without_the_old_regime() -> None:
    """A cycle's computation replays the history into a router; the drift alarm that
    replay raises makes the predictor it fits forget the pair's regime before it."""
    from imperium.domain.routing import Router
    from imperium.services.learning.service import _compute

    history = _run(("code", "A"), [True] * 300 + [False, False, True] * 50)
    replay = Router(random.Random(1))
    predictor = PairRates()
    _compute(predictor, replay, (history, []), ["A"], now=1e6)
    assert replay.alarms
    stale = PairRates()
    stale.fit(history, now=1e6)
    query = [Query("code", 1.0, "A")]
    assert predictor.predict(query)[0].success < 0.5  # the new regime (1/3) and the window
    assert stale.predict(query)[0].success > 0.75
