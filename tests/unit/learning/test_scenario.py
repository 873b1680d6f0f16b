"""Scenario files for the learning simulator: validation messages and the true behaviour."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import pytest

from imperium.domain.errors import ValidationError
from imperium.domain.scenario import DEFAULT_LOAD, Scenario, parse_scenario

SCENARIOS = Path(__file__).resolve().parents[3] / "scenarios"


def valid() -> dict[str, Any]:
    return {
        "task_types": {
            "code": {"weight": 0.75, "capabilities": ["python"]},
            "docs": {"weight": 0.25},
        },
        "agents": [
            {
                "id": "A",
                "capabilities": ["python", "docs"],
                "max_concurrency": 2,
                "skills": {
                    "code": {"success": 0.9, "duration_mean": 30.0, "duration_sigma": 0.3},
                    "docs": {"success": 0.5, "duration_mean": 10.0},
                },
            },
            {
                "id": "B",
                "capabilities": ["python"],
                "max_concurrency": 3,
                "skills": {"code": {"success": 0.1, "duration_mean": 60.0}},
            },
        ],
        "complexity": {"min": 1, "max": 5, "success_slope": -0.05, "duration_slope": 0.25},
        "drift": [
            {"agent": "A", "after_task": 100, "task_type": "code", "success": 0.4},
            {"agent": "A", "after_task": 50, "task_type": "code", "success": 0.7},
        ],
    }


def scenario(**changes: Any) -> Scenario:
    data = valid()
    data.update(changes)
    return parse_scenario(data)


# ---------------------------------------------------------------------- parsing
def test_a_valid_file_parses_with_defaults() -> None:
    s = parse_scenario(valid(), name="from-file")
    assert s.name == "from-file"
    assert s.description == ""
    assert s.load == DEFAULT_LOAD
    assert [t.name for t in s.task_types] == ["code", "docs"]
    # a type that declares no capabilities requires its own name, as in the engine
    assert s.task_type("docs").capabilities == frozenset({"docs"})
    assert s.agent("B").max_concurrency == 3
    assert s.agent("A").skills["docs"].duration_sigma == 0.0
    assert len(s.drift) == 2


def test_the_file_name_wins_over_the_default_name() -> None:
    s = parse_scenario({**valid(), "name": "mine", "description": "d", "load": 1.5}, "x")
    assert (s.name, s.description, s.load) == ("mine", "d", 1.5)


def _set(path: str, value: object) -> dict[str, Any]:
    """valid() with the value at a dotted path (list indexes as numbers) replaced."""
    data = copy.deepcopy(valid())
    *parents, last = path.split(".")
    node: Any = data
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return data


def _without(path: str) -> dict[str, Any]:
    data = copy.deepcopy(valid())
    *parents, last = path.split(".")
    node: Any = data
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    del node[last]
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([1, 2], "scenario must be a JSON object, got a list"),
        (None, "scenario must be a JSON object, got null"),
        (_without("task_types"), "task_types is missing"),
        (_set("task_types", {}), "task_types is empty"),
        (_set("task_types", ["code"]), "task_types must be a JSON object, got a list"),
        (_set("task_types.code.weight", 0), "task_types.code.weight must be > 0"),
        (_set("task_types.code.weight", -1), "task_types.code.weight must be > 0"),
        (
            _set("task_types.code.weight", "heavy"),
            "task_types.code.weight must be a number, got the string 'heavy'",
        ),
        (
            _set("task_types.code.capabilities", "python"),
            "task_types.code.capabilities must be a list of non-empty strings",
        ),
        (_without("agents"), "agents is missing"),
        (_set("agents", []), "agents is empty"),
        (_set("agents", {"A": {}}), "agents must be a list of objects, got an object"),
        (_set("agents.1", "B"), "agents[1] must be a JSON object, got the string 'B'"),
        (_set("agents.1.id", "A"), "agents[1].id: duplicate agent id 'A' (also agents[0])"),
        (_set("agents.1.id", 7), "agents[1].id must be a string, got the number 7"),
        (_set("agents.1.max_concurrency", 0), "agents[1].max_concurrency must be at least 1"),
        (
            _set("agents.1.max_concurrency", True),
            "agents[1].max_concurrency must be an integer, got a boolean",
        ),
        (
            _set("agents.1.max_concurrency", 1.5),
            "agents[1].max_concurrency must be an integer, got the number 1.5",
        ),
        (
            _set("agents.1.skills", {"tests": {"success": 0.5, "duration_mean": 1}}),
            "agents[1].skills.tests: unknown task type 'tests'; use one of 'code', 'docs'",
        ),
        (
            _set("agents.1.skills", {"docs": {"success": 0.5, "duration_mean": 1}}),
            "agents[1].skills.docs: the agent lacks 'docs' that task type 'docs' requires",
        ),
        (_set("agents.1.skills", {}), "agents[1].skills is empty"),
        (
            _set("agents.0.skills.code.success", 1.2),
            "agents[0].skills.code.success must be a probability in [0, 1], got 1.2",
        ),
        (
            _set("agents.0.skills.code.success", -0.1),
            "agents[0].skills.code.success must be a probability in [0, 1]",
        ),
        (
            _set("agents.0.skills.code.duration_mean", 0),
            "agents[0].skills.code.duration_mean must be > 0 seconds",
        ),
        (
            _set("agents.0.skills.code.duration_sigma", -0.3),
            "agents[0].skills.code.duration_sigma must be >= 0",
        ),
        (
            _set("agents.0.skills.code.duration_sigma", float("nan")),
            "agents[0].skills.code.duration_sigma must be a finite number",
        ),
        (_without("agents.0.skills.code.success"), "agents[0].skills.code.success is missing"),
        (
            _set("agents.0.skills.code.mean", 3),
            "agents[0].skills.code: unknown key 'mean'; allowed keys are success, "
            "duration_mean, duration_sigma",
        ),
        (
            _set("agents.0.skills", {"code": {"success": 0.9, "duration_mean": 30.0}}),
            "task_types.docs: no agent can take it",
        ),
        (
            _set("complexity.min", 6),
            "complexity.min (6.0) is greater than complexity.max (5.0); swap them",
        ),
        (_set("complexity.duration_slope", -0.5), "complexity.duration_slope makes durations"),
        (_set("complexity", 3), "complexity must be a JSON object, got the number 3"),
        (_set("drift", {}), "drift must be a list of objects, got an object"),
        (
            _set("drift.0.task_type", "tests"),
            "drift[0].task_type: unknown task type 'tests'; use one of 'code', 'docs'",
        ),
        (_set("drift.0.agent", "Z"), "drift[0].agent: unknown agent 'Z'; use one of 'A', 'B'"),
        (
            _set("drift.0", {"agent": "B", "after_task": 1, "task_type": "docs", "success": 0.5}),
            "drift[0]: agent 'B' has no skill for 'docs'",
        ),
        (_set("drift.0.success", 2), "drift[0].success must be a probability in [0, 1]"),
        (_set("drift.0.after_task", -1), "drift[0].after_task must be >= 0"),
        (_without("drift.1.after_task"), "drift[1].after_task is missing"),
        (_set("load", 0), "load must be in (0, 1.5]"),
        (_set("load", 1.6), "load must be in (0, 1.5]"),
        (_set("name", 3), "name must be a string, got the number 3"),
        (_set("agent", []), "scenario: unknown key 'agent'; allowed keys are"),
    ],
)
def test_invalid_scenarios_name_the_path_and_the_fix(data: object, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_scenario(data)
    assert message in str(caught.value)


# ---------------------------------------------------------------------- the truth
def test_success_falls_with_complexity_and_is_clipped() -> None:
    s = scenario(drift=[])
    assert s.true_success("A", "code", 1, 0) == pytest.approx(0.9)
    assert s.true_success("A", "code", 3, 0) == pytest.approx(0.8)
    assert s.true_success("B", "code", 5, 0) == 0.0  # 0.1 - 0.2 clipped
    rising = scenario(drift=[], complexity={"min": 0, "max": 10, "success_slope": 0.1})
    assert rising.true_success("A", "code", 10, 0) == 1.0  # 0.9 + 1.0 clipped


def test_drift_applies_from_its_task_index_and_the_latest_entry_wins() -> None:
    s = scenario()
    assert s.true_success("A", "code", 1, 49) == pytest.approx(0.9)
    assert s.true_success("A", "code", 1, 50) == pytest.approx(0.7)
    assert s.true_success("A", "code", 1, 99) == pytest.approx(0.7)
    assert s.true_success("A", "code", 1, 100) == pytest.approx(0.4)
    assert s.true_success("A", "code", 3, 10_000) == pytest.approx(0.3)  # slope still applies
    assert s.true_success("A", "docs", 1, 10_000) == pytest.approx(0.5)  # other pairs untouched
    assert s.true_success("B", "code", 1, 10_000) == pytest.approx(0.1)


def test_two_entries_at_the_same_index_the_later_in_the_file_wins() -> None:
    s = scenario(
        drift=[
            {"agent": "A", "after_task": 5, "task_type": "code", "success": 0.2},
            {"agent": "A", "after_task": 5, "task_type": "code", "success": 0.6},
        ]
    )
    assert s.true_success("A", "code", 1, 5) == pytest.approx(0.6)


def test_durations_grow_with_complexity_and_mu_keeps_the_mean() -> None:
    s = scenario()
    assert s.mean_duration("A", "code", 1) == pytest.approx(30.0)
    assert s.mean_duration("A", "code", 5) == pytest.approx(60.0)  # 30 x (1 + 0.25 x 4)
    sigma = s.duration_sigma("A", "code")
    assert sigma == 0.3
    mu = s.duration_mu("A", "code", 5)
    assert math.exp(mu + sigma * sigma / 2) == pytest.approx(60.0)  # lognormal mean


def test_capable_needs_a_skill_and_the_capabilities() -> None:
    s = scenario()
    assert s.capable("A", "code")
    assert s.capable("A", "docs")
    assert not s.capable("B", "docs")  # no skill, no capability
    assert not s.capable("Z", "code")
    assert not s.capable("A", "tests")
    assert [a.id for a in s.capable_agents("code")] == ["A", "B"]


def test_capacity_is_slots_over_the_weighted_mean_duration_at_mid_complexity() -> None:
    s = scenario()
    # mid complexity 3: duration factor 1.5; code: mean(30, 60) x 1.5 = 67.5; docs: 15
    mean = 0.75 * 67.5 + 0.25 * 15.0
    assert s.capacity() == pytest.approx(5 / mean)


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.json")), ids=lambda p: p.stem)
def test_shipped_scenarios_are_valid_and_described(path: Path) -> None:
    s = parse_scenario(json.loads(path.read_text()), name=path.stem)
    assert s.name == path.stem
    assert len(s.description) > 40
    assert len(s.agents) >= 3
    assert 0 < s.load <= 1.0


def test_at_least_three_scenarios_are_shipped_and_one_drifts() -> None:
    names = {p.stem for p in SCENARIOS.glob("*.json")}
    assert {"basic", "drift", "heterogeneous"} <= names
    drift = parse_scenario(json.loads((SCENARIOS / "drift.json").read_text()))
    assert drift.drift
