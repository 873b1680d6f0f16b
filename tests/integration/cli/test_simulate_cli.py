"""``imperium simulate`` end to end: the shipped scenarios, JSON output, trace file,
and one-line errors for bad input. (The simulator itself: tests/unit/learning.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from imperium.interfaces.cli.main import app

ROOT = Path(__file__).resolve().parents[3]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.json"))
TRACE_KEYS = {
    "task_type", "complexity", "chosen", "predicted_success", "true_success", "succeeded",
    "predicted_duration", "duration",
}  # fmt: skip


def simulate(*args: str):
    return CliRunner().invoke(app, ["simulate", *args], env={"COLUMNS": "200"})


def test_every_shipped_scenario_is_valid() -> None:
    assert len(SCENARIOS) >= 3
    for path in SCENARIOS:
        result = simulate("--scenario", str(path), "--tasks", "50", "--json")
        assert result.exit_code == 0, f"{path.name}: {result.output}"
        out = json.loads(result.stdout)
        assert out["tasks"] == 50


def test_json_and_trace(tmp_path: Path) -> None:
    trace = tmp_path / "trace.jsonl"
    scenario = str(ROOT / "scenarios" / "basic.json")
    result = simulate(
        "--scenario", scenario, "--tasks", "800", "--policy", "learned", "--seed", "3",
        "--retrain-every", "400", "--json", "--trace", str(trace),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    for key in ("policy", "tasks", "successes", "success_rate", "expected_reward",
                "oracle_expected_reward", "regret"):  # fmt: skip
        assert key in out
    assert out["regret"] == pytest.approx(
        out["oracle_expected_reward"] - out["expected_reward"], abs=1e-4
    )
    lines = [json.loads(line) for line in trace.read_text().splitlines()]
    assert len(lines) == 800
    assert all(set(line) >= TRACE_KEYS for line in lines)
    assert sum(line["succeeded"] for line in lines) == out["successes"]
    # the scikit-learn predictor (the server's) was refitted as asked
    # (and early: every 8 decisions up to 256, then every 16 until the first 400)
    early = [*range(8, 256, 8), *range(256, 400, 16)]
    assert [m["at_task"] for m in out["models"]] == [0, *early, 400]

    again = simulate(
        "--scenario", scenario, "--tasks", "800", "--policy", "oracle", "--seed", "3", "--json"
    )  # fmt: skip
    oracle = json.loads(again.stdout)
    assert oracle["regret"] == 0
    assert oracle["oracle_expected_reward"] >= out["expected_reward"]


def test_text_output_summarises(tmp_path: Path) -> None:
    result = simulate("--scenario", str(ROOT / "scenarios" / "basic.json"), "--tasks", "200")
    assert result.exit_code == 0, result.output
    assert "learned on basic: 200 tasks" in result.output
    assert "regret per task by window" in result.output


def test_team_tasks_are_simulated_and_summarised() -> None:
    path = str(ROOT / "scenarios" / "teams.json")
    result = simulate("--scenario", path, "--tasks", "200")
    assert result.exit_code == 0, result.output
    assert "team tasks: 40 (teams of 2, quorum 2)" in result.output
    assert "regret against the best team" in result.output
    out = json.loads(simulate("--scenario", path, "--tasks", "200", "--json").stdout)
    assert out["teams"]["tasks"] == 40
    assert out["teams"]["regret"] >= 0


@pytest.mark.parametrize(
    ("args", "content", "phrase"),
    [
        (("--policy", "clever"), None, "clever"),
        ((), "{not json", "is not valid JSON"),
        ((), '{"task_types": {}, "agents": []}', "task_types"),
        (
            (),
            '{"task_types": {"t": {}}, "agents": [{"id": "A", "capabilities": ["t"], '
            '"skills": {"t": {"success": 0.5, "duration_mean": 1}}}], "teams": {"size": 2}}',
            "only 1 agents can take 't', too few for teams of 2",
        ),
        (("--tasks", "0"), None, "Invalid value for '--tasks'"),
    ],
)
def test_mistakes_are_one_clear_line(
    tmp_path: Path, args: tuple[str, ...], content: str | None, phrase: str
) -> None:
    path = ROOT / "scenarios" / "basic.json"
    if content is not None:
        path = tmp_path / "scenario.json"
        path.write_text(content)
    result = simulate("--scenario", str(path), "--tasks", "10", *args)
    assert result.exit_code in (1, 2), result.output
    assert phrase in result.output
    assert "Traceback" not in result.output


def test_missing_scenario_file(tmp_path: Path) -> None:
    result = simulate("--scenario", str(tmp_path / "nope.json"))
    assert result.exit_code == 1
    assert "cannot read" in result.output


def test_forgetting_is_the_routers_setting_or_the_option() -> None:
    scenario = str(ROOT / "scenarios" / "upgrade.json")
    args = ("--scenario", scenario, "--tasks", "400", "--seed", "2", "--json")
    remember = json.loads(simulate(*args).stdout)
    forget = json.loads(simulate(*args, "--forgetting", "0.99").stdout)
    assert forget["regret"] != remember["regret"]  # the option reached the router
    runner = CliRunner()
    from_env = runner.invoke(
        app, ["simulate", *args], env={"IMPERIUM_ROUTER_FORGETTING": "0.99", "COLUMNS": "200"}
    )
    assert json.loads(from_env.stdout)["regret"] == forget["regret"]
    bad = runner.invoke(app, ["simulate", *args], env={"IMPERIUM_ROUTER_FORGETTING": "0.5"})
    assert bad.exit_code == 1
    assert "router_forgetting" in bad.output or "IMPERIUM_ROUTER_FORGETTING" in bad.output
