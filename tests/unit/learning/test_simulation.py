"""The learning simulator: the engine's router and predictor against simulated agents."""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from imperium.domain.errors import ValidationError
from imperium.domain.learning import ModelReport, Prediction, Query
from imperium.domain.models import Execution
from imperium.domain.prediction import PairRates
from imperium.domain.scenario import Scenario, parse_scenario
from imperium.services.learning.simulation import (
    POLICIES,
    TRACE_KEYS,
    SimulationResult,
    simulate,
)

SCENARIOS = Path(__file__).resolve().parents[3] / "scenarios"
SPEC_TRACE_KEYS = {
    "task_type",
    "complexity",
    "chosen",
    "predicted_success",
    "true_success",
    "succeeded",
    "predicted_duration",
    "duration",
}
SPEC_RESULT_KEYS = {
    "policy",
    "tasks",
    "successes",
    "success_rate",
    "expected_reward",
    "oracle_expected_reward",
    "regret",
}


@cache
def shipped(name: str) -> Scenario:
    path = SCENARIOS / f"{name}.json"
    return parse_scenario(json.loads(path.read_text()), name=name)


@cache
def run(name: str, policy: str, tasks: int, seed: int = 1) -> SimulationResult:
    return simulate(shipped(name), tasks=tasks, policy=policy, seed=seed)


def traced(scenario: Scenario, **kwargs: Any) -> tuple[SimulationResult, list[dict[str, Any]]]:
    lines: list[dict[str, Any]] = []
    result = simulate(scenario, trace=lines.append, **kwargs)
    return result, lines


def tiny(**changes: Any) -> Scenario:
    """One task type, a perfect agent A and a hopeless agent B, many slots, light load."""
    data: dict[str, Any] = {
        "name": "tiny",
        "load": 0.1,
        "task_types": {"t": {"weight": 1}},
        "agents": [
            {
                "id": "A",
                "capabilities": ["t"],
                "max_concurrency": 10,
                "skills": {"t": {"success": 1.0, "duration_mean": 2.0}},
            },
            {
                "id": "B",
                "capabilities": ["t"],
                "max_concurrency": 10,
                "skills": {"t": {"success": 0.0, "duration_mean": 1.0}},
            },
        ],
    }
    data.update(changes)
    return parse_scenario(data)


# ---------------------------------------------------------------------- arguments
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"policy": "best", "tasks": 10}, "unknown policy 'best'; use one of learned, greedy"),
        ({"policy": "learned", "tasks": 0}, "tasks must be a whole number >= 1, got 0"),
        ({"policy": "oracle", "tasks": 10, "retrain_every": 0}, "retrain_every must be >= 1"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(")):
        simulate(tiny(), seed=1, **kwargs)


# ---------------------------------------------------------------------- accounting
def test_the_json_has_the_documented_fields() -> None:
    out = run("basic", "learned", 2000).as_json()
    assert set(out) >= SPEC_RESULT_KEYS
    assert out["policy"] == "learned"
    assert out["scenario"] == "basic"
    assert out["tasks"] == 2000
    assert out["seed"] == 1
    assert out["load"] == shipped("basic").load
    assert out["success_rate"] == round(out["successes"] / 2000, 6)
    assert set(out["prediction"]) == {"auc", "auc_true", "brier", "brier_true", "mae_log_duration"}
    assert set(out["drift"]) == {"scenario", "detected", "false_alarms"}
    assert len(out["regret_by_window"]) == 10
    assert out["mean_wait"] >= 0
    json.dumps(out)  # serialisable as is


@pytest.mark.parametrize("policy", POLICIES)
def test_regret_is_the_oracle_reward_minus_the_expected_reward(policy: str) -> None:
    result = run("basic", policy, 2000)
    out = result.as_json()
    assert result.regret == pytest.approx(
        result.oracle_expected_reward - result.expected_reward, abs=1e-9
    )
    assert result.regret == pytest.approx(sum(result.regret_per_decision), abs=1e-6)
    assert out["regret"] == pytest.approx(
        out["oracle_expected_reward"] - out["expected_reward"], abs=2e-6
    )
    assert all(r >= 0 for r in result.regret_per_decision)
    windows = out["regret_by_window"]
    assert windows[0]["from"] == 0
    assert windows[-1]["to"] == 2000
    assert sum(w["regret_per_task"] * (w["to"] - w["from"]) for w in windows) == pytest.approx(
        result.regret, abs=1e-3
    )


def test_the_oracle_has_no_regret() -> None:
    for name in ("basic", "drift", "heterogeneous"):
        result = run(name, "oracle", 2000)
        assert result.regret == 0.0
        assert result.expected_reward == result.oracle_expected_reward


def test_the_oracle_breaks_ties_by_shorter_duration_then_id() -> None:
    same = tiny(
        agents=[
            {
                "id": agent_id,
                "capabilities": ["t"],
                "max_concurrency": 10,
                "skills": {"t": {"success": 0.5, "duration_mean": duration}},
            }
            for agent_id, duration in (("A", 2.0), ("B", 1.0), ("C", 1.0))
        ]
    )
    _, lines = traced(same, tasks=200, policy="oracle", seed=3)
    assert {line["chosen"] for line in lines} == {"B"}  # B and C as fast: B by id


def test_windows_shrink_to_the_number_of_tasks() -> None:
    windows = simulate(tiny(), tasks=3, policy="random", seed=1).regret_by_window()
    assert [(w["from"], w["to"]) for w in windows] == [(0, 1), (1, 2), (2, 3)]


# ---------------------------------------------------------------------- determinism
def test_the_same_seed_gives_the_same_result_and_trace() -> None:
    first, lines1 = traced(shipped("basic"), tasks=1500, policy="learned", seed=7)
    second, lines2 = traced(shipped("basic"), tasks=1500, policy="learned", seed=7)
    assert first.as_json() == second.as_json()
    assert lines1 == lines2
    other = simulate(shipped("basic"), tasks=1500, policy="learned", seed=8)
    assert other.as_json() != first.as_json()


def test_every_policy_faces_the_same_tasks() -> None:
    sequences = []
    for policy in POLICIES:
        _, lines = traced(shipped("heterogeneous"), tasks=1500, policy=policy, seed=5)
        by_task = sorted(lines, key=lambda line: line["task"])
        assert [line["task"] for line in by_task] == list(range(1500))
        sequences.append([(line["task_type"], line["complexity"]) for line in by_task])
    assert all(sequence == sequences[0] for sequence in sequences)


def test_the_same_luck_gives_the_same_outcome_for_the_same_choice() -> None:
    """Common random numbers: where two policies chose the same agent for a task, the
    attempt succeeded (or failed) in both and took as long."""
    _, learned = traced(shipped("basic"), tasks=1500, policy="learned", seed=2)
    _, oracle = traced(shipped("basic"), tasks=1500, policy="oracle", seed=2)
    by_task = {line["task"]: line for line in oracle}
    same = [
        (line, by_task[line["task"]])
        for line in learned
        if line["chosen"] == by_task[line["task"]]["chosen"]
    ]
    assert len(same) > 1000
    for a, b in same:
        assert (a["succeeded"], a["duration"], a["true_success"]) == (
            b["succeeded"],
            b["duration"],
            b["true_success"],
        )


# ---------------------------------------------------------------------- the engine's rules
@pytest.mark.parametrize("policy", POLICIES)
def test_no_agent_ever_runs_more_than_its_max_concurrency(policy: str) -> None:
    scenario = shipped("heterogeneous")
    result, lines = traced(scenario, tasks=2000, policy=policy, seed=1)
    for line in lines:
        assert 1 <= line["running"] <= line["max_concurrency"]
        assert line["max_concurrency"] == scenario.agent(line["chosen"]).max_concurrency
        assert line["chosen"] in line["candidates"]
        assert all(scenario.capable(a, line["task_type"]) for a in line["candidates"])
    for agent_id, tally in result.agents.items():
        assert tally.max_concurrency == scenario.agent(agent_id).max_concurrency
        assert tally.peak_running <= tally.max_concurrency
    # the limit is reached, so the check above means something
    assert result.agents["expert"].peak_running == 3
    assert sum(t.tasks for t in result.agents.values()) == 2000


def test_tasks_wait_when_every_capable_agent_is_busy() -> None:
    crowded = tiny(load=1.5)
    result, lines = traced(crowded, tasks=500, policy="random", seed=1)
    assert result.mean_wait > 0
    assert max(line["wait"] for line in lines) > 0
    assert result.mean_wait == pytest.approx(sum(line["wait"] for line in lines) / 500, abs=1e-4)


def test_greedy_keeps_to_the_best_observed_agent_without_exploring() -> None:
    _, lines = traced(tiny(), tasks=400, policy="greedy", seed=4)
    # before any outcome is known every rate is 0 and ties are random: both are tried;
    # once A has succeeded (rate 1 > B's 0) it gets every task, as it never runs out of slots
    assert lines[-300:] == [line for line in lines[-300:] if line["chosen"] == "A"]


def test_random_spreads_the_tasks() -> None:
    result = simulate(tiny(), tasks=1000, policy="random", seed=4)
    assert 400 < result.agents["A"].tasks < 600


# ---------------------------------------------------------------------- learning
def test_learned_regret_is_well_below_greedy_and_random() -> None:
    learned = run("basic", "learned", 3000).regret
    greedy = run("basic", "greedy", 3000).regret
    random_ = run("basic", "random", 3000).regret
    assert learned < greedy / 2
    assert learned < random_ / 5


def test_learned_regret_per_task_falls() -> None:
    windows = run("basic", "learned", 3000).regret_by_window()
    rates = [w["regret_per_task"] for w in windows]
    assert rates[-1] < rates[0] / 4
    assert sum(rates[5:]) < sum(rates[:5]) / 2


def test_the_learned_policy_detects_the_drift_quickly_without_false_alarms() -> None:
    result = run("drift", "learned", 6000)
    drift = result.as_json()["drift"]
    assert drift["false_alarms"] == 0
    [entry] = drift["scenario"]
    assert entry["agent"] == "alpha"
    assert entry["after_task"] == 5000
    assert 0 <= entry["delay_tasks"] < 200
    [alarm] = drift["detected"]
    assert alarm["direction"] == "degraded"
    assert alarm["before_rate"] > 0.8
    assert alarm["recent_rate"] < alarm["before_rate"] - 0.15  # a window mixing before and after
    assert alarm["confidence"] > 0.999
    # and it moves the work away: after the alarm, alpha gets little of the code
    rates = [w["regret_per_task"] for w in result.regret_by_window()]
    assert rates[-1] < 0.02


def test_greedy_is_slow_to_leave_a_degraded_agent() -> None:
    learned = run("drift", "learned", 6000)
    greedy = run("drift", "greedy", 6000)
    after = slice(5000, 6000)
    assert sum(greedy.regret_per_decision[after]) > 5 * sum(learned.regret_per_decision[after])


def test_an_alarm_that_matches_no_drift_entry_is_a_false_alarm() -> None:
    # random spreads the work, so it hears every pair; its seed-1 run on the drift
    # scenario raises alarms on alpha's "test" type, which never drifts
    drift = run("drift", "random", 10_000).as_json()["drift"]
    false = [d for d in drift["detected"] if d["delay_tasks"] is None]
    assert drift["false_alarms"] == len(false)
    assert all(d["task_type"] == "test" for d in false)
    assert drift["scenario"][0]["delay_tasks"] is not None


# ---------------------------------------------------------------------- predictions
def test_trace_lines_have_the_documented_keys() -> None:
    _, lines = traced(shipped("basic"), tasks=300, policy="learned", seed=1, retrain_every=100)
    assert len(lines) == 300
    for i, line in enumerate(lines):
        assert set(line) == set(TRACE_KEYS)
        assert line["decision"] == i
        assert isinstance(line["succeeded"], bool)
        assert 0 <= line["true_success"] <= line["best_success"] <= 1
        assert line["duration"] > 0
    assert set(TRACE_KEYS) >= SPEC_TRACE_KEYS
    # before the first refit on data, PairRates knows nothing: 0.5 and no duration
    assert lines[0]["predicted_success"] == 0.5
    assert lines[0]["predicted_duration"] is None
    assert lines[-1]["predicted_duration"] is not None


def test_predictions_are_close_to_the_truth() -> None:
    """PairRates ignores complexity, which the truth depends on in basic.json; the AUC of
    its predictions still comes within 0.05 of the AUC of the true probabilities, and
    within 0.03 when success does not depend on complexity."""
    data = json.loads((SCENARIOS / "basic.json").read_text())
    flat = parse_scenario({**data, "complexity": {**data["complexity"], "success_slope": 0}})
    for scenario, tolerance in ((shipped("basic"), 0.05), (flat, 0.03)):
        prediction = simulate(
            scenario, tasks=5000, policy="learned", seed=1, retrain_every=250
        ).prediction
        assert prediction["auc"] is not None
        assert prediction["auc_true"] is not None
        assert abs(prediction["auc_true"] - prediction["auc"]) < tolerance
        assert prediction["brier"] is not None
        assert prediction["brier_true"] is not None
        assert prediction["brier"] - prediction["brier_true"] < 0.02
        assert prediction["mae_log_duration"] is not None
        assert prediction["mae_log_duration"] < 0.4


class CountingPredictor:
    """PairRates that remembers what it was fitted on."""

    fits: list[int] = []

    def __init__(self) -> None:
        self.inner = PairRates()
        self.report: ModelReport | None = None

    def fit(self, executions: Sequence[Execution], now: float) -> ModelReport:
        CountingPredictor.fits.append(len(executions))
        self.report = self.inner.fit(executions, now)
        return self.report

    def predict(self, queries: Sequence[Query]) -> list[Prediction]:
        return self.inner.predict(queries)


def test_the_predictor_is_refitted_every_retrain_every_decisions() -> None:
    CountingPredictor.fits = []
    result = simulate(
        shipped("basic"),
        tasks=350,
        policy="learned",
        seed=1,
        make_predictor=CountingPredictor,
        retrain_every=100,
    )
    # before decisions 0, 100, 200 and 300, and early ones (< 100) every 8 decisions
    early = list(range(8, 100, 8))
    assert len(CountingPredictor.fits) == 4 + len(early)
    assert CountingPredictor.fits[0] == 0
    assert CountingPredictor.fits == sorted(CountingPredictor.fits)
    assert [m["at_task"] for m in result.models] == [0, *early, 100, 200, 300]
    assert {"version", "kind", "train_samples", "held_out", "auc", "brier"} <= set(
        result.models[-1]
    )
    assert result.models[-1]["kind"] == "pair_rates"


def test_progress_is_reported_up_to_the_number_of_tasks() -> None:
    seen: list[int] = []
    simulate(tiny(), tasks=250, policy="oracle", seed=1, progress=seen.append)
    assert seen == sorted(seen)
    assert seen[-1] == 250
    assert len(seen) >= 100
