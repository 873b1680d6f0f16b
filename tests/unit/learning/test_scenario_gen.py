"""bench/scenario_gen.py: its generated scenarios are valid, reproducible, varied, and the
TRAIN and HELD-OUT sets do not overlap; its evaluation sums regret per policy."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

from imperium.domain.routing import RouterConfig
from imperium.domain.scenario import parse_scenario

FILE = Path(__file__).resolve().parents[3] / "bench" / "scenario_gen.py"


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("scenario_gen", FILE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen = load()


def test_every_generated_scenario_parses_and_is_reproducible() -> None:
    for base in gen.SETS.values():
        for i in range(40):
            data = gen.generate(base + i)
            assert json.dumps(data) == json.dumps(gen.generate(base + i))
            scenario = parse_scenario(data)
            assert 1 <= len(scenario.task_types) <= 5
            assert 3 <= len(scenario.agents) <= 12
            for kind in scenario.task_types:
                assert len(scenario.capable_agents(kind.name)) >= 2


def test_the_sets_differ_and_vary() -> None:
    train = [json.dumps(gen.generate(gen.SETS["train"] + i)) for i in range(40)]
    held_out = [json.dumps(gen.generate(gen.SETS["held-out"] + i)) for i in range(40)]
    assert not set(train) & set(held_out)
    scenarios = [json.loads(s) for s in train]
    per_skill = sum(
        any("success_slope" in s for a in d["agents"] for s in a["skills"].values())
        for d in scenarios
    )
    drifting = sum("drift" in d for d in scenarios)
    assert 0 < per_skill < 40
    assert 0 < drifting < 40
    assert len({len(d["task_types"]) for d in scenarios}) >= 4


def test_the_evaluation_sums_each_policy_and_caches_the_baselines() -> None:
    cache: dict[str, object] = {}
    scenarios = [("g", gen.generate(1000)), ("h", gen.generate(1001))]
    result = gen.evaluate("train", scenarios, [1, 2], 200, RouterConfig(), cache, False)
    summary = result["summary"]
    rows = result["rows"]
    assert summary["scenarios"] == 2
    for policy in ("learned", "greedy", "random"):
        assert summary[policy] == pytest.approx(sum(r[policy] for r in rows), abs=0.2)
    ratio = summary["learned"] / summary["greedy"]
    assert summary["learned/greedy"] == pytest.approx(ratio, rel=0.01)
    assert len(cache) == 2 * 2 * 2  # greedy and random, per scenario and seed
    again = gen.evaluate("train", scenarios, [1, 2], 200, RouterConfig(), cache, False)
    assert again["summary"] == summary  # deterministic, also from the cache


def test_triples_spread_the_ratio_over_draws_of_three_scenarios() -> None:
    rows = [
        {"runs": {"learned": [1.0, 3.0], "greedy": [2.0, 2.0], "random": [20.0, 20.0]}}
        for _ in range(4)
    ]
    spread = gen.triples(rows, 100)
    assert spread["size"] == 3
    # one seed gives 3/6 = 0.5 x greedy, the other 9/6 = 1.5 x
    assert set(spread["greedy"].values()) - {spread["greedy"]["share_meeting"]} <= {0.5, 1.5}
    assert 0 < spread["greedy"]["share_meeting"] < 1
    assert spread["random"]["p10"] == pytest.approx(0.05)
    assert spread["random"]["p90"] == pytest.approx(0.15)
