"""The learning commands against SQLite and PostgreSQL: import a recorded history, learn
from it, and read what was learned (insights, models, predictions, status, export)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from imperium.interfaces.cli.main import app
from imperium.services.learning.transfer import FORMAT, VERSION, execution_to_json
from tests.support.learning_history import history


@pytest.fixture
def cli(migrated_database_url: str):
    runner = CliRunner()

    def invoke(*args: str, env: dict[str, str] | None = None):
        return runner.invoke(
            app,
            [*args],
            env={"DATABASE_URL": migrated_database_url, "COLUMNS": "250", **(env or {})},
        )

    return invoke


def write_export(path: Path, n: int = 400) -> Path:
    document = {
        "format": FORMAT,
        "version": VERSION,
        "executions": [execution_to_json(e) for e in history(n)],
    }
    path.write_text(json.dumps(document))
    return path


def register_agents(cli) -> None:
    for agent in ("good", "bad"):
        result = cli("agents", "register", agent, "--type", "remote", "-c", "review")
        assert result.exit_code == 0, result.output


def test_import_learn_and_read_what_was_learned(cli, tmp_path: Path) -> None:
    register_agents(cli)
    source = write_export(tmp_path / "history.json")

    imported = cli("import", str(source))
    assert imported.exit_code == 0, imported.output
    assert "imported 400 executions (0 already recorded)" in imported.output
    again = cli("import", str(source))
    assert "imported 0 executions (400 already recorded)" in again.output

    learned = cli("learn", "--json")
    assert learned.exit_code == 0, learned.output
    cycle = json.loads(learned.stdout)
    assert cycle["status"] == "completed"
    assert cycle["participating_agents"] == ["bad", "good"]
    assert cycle["success_count"] + cycle["failure_count"] == 400
    model = cycle["metadata"]["model"]
    assert model["held_out"] == 80  # the newest 20%
    assert model["auc"] > 0.7  # who ran it separates success from failure
    assert cycle["total_learning_value"] == pytest.approx(model["brier_skill"])

    found = json.loads(cli("insights", "--json").stdout)["insights"]
    kinds = {(i["insight_type"], tuple(i["agents"])) for i in found}
    assert ("best_combo", ("good",)) in kinds
    assert ("avoid_pattern", ("bad",)) in kinds
    avoid = next(i for i in found if i["insight_type"] == "avoid_pattern")
    assert avoid["data"]["most_common_error"]["error_kind"] == "dependency_conflict"
    assert all(0.0 <= i["confidence"] <= 1.0 for i in found)
    only = json.loads(cli("insights", "--type", "best_combo", "--json").stdout)["insights"]
    assert only
    assert {i["insight_type"] for i in only} == {"best_combo"}

    analysed = json.loads(cli("analyze", "--json").stdout)
    assert analysed["models"][0]["version"] == model["version"]
    scores = {a["agent_id"]: a["learning_score"] for a in analysed["agents"]}
    assert scores["good"] > 80 > 40 > scores["bad"]
    assert "AUC" in cli("analyze").output

    rec = json.loads(cli("predict", "review", "2.5", "--json").stdout)
    primary = rec["primary_recommendation"]
    assert primary["agents"] == ["good"]
    assert primary["expected_success"] > 0.8
    assert primary["confidence"] > 0.99
    assert 5 < primary["expected_duration"] < 20
    assert [a["agents"] for a in rec["alternatives"]] == [["bad"]]
    assert rec["alternatives"][0]["sample_size"] == 200
    assert rec["learning_mode"] == "autonomous"

    status = json.loads(cli("status", "--json").stdout)
    assert status["learning"]["last_cycle"]["cycle_id"] == cycle["cycle_id"]
    successes = sum(e.outcome == "succeeded" for e in history(400))
    executions = {k: v for k, v in status["executions"].items() if v}
    assert executions == {"failed": 400 - successes, "succeeded": successes}
    assert status["success_rate"] == pytest.approx(successes / 400)


def test_export_round_trips_into_another_database(cli, tmp_path: Path, make_database_url) -> None:
    register_agents(cli)
    cli("import", str(write_export(tmp_path / "history.json", n=120)))
    out = tmp_path / "export.json"
    exported = cli("export", str(out))
    assert exported.exit_code == 0, exported.output
    document = json.loads(out.read_text())
    assert (document["format"], document["version"]) == (FORMAT, VERSION)
    assert document["executions"] == [execution_to_json(e) for e in history(120)]

    other = make_database_url("sqlite")
    result = cli("import", str(out), env={"DATABASE_URL": other})
    assert result.exit_code == 0, result.output
    assert "imported 120 executions" in result.output


@pytest.mark.parametrize(
    ("content", "phrase"),
    [
        ("not json", "is not valid JSON"),
        ('{"format": "other"}', "not an Imperium learning export"),
        (
            json.dumps({"format": FORMAT, "version": 1, "executions": [{"task_id": "x"}]}),
            "executions[0]: 'outcome' is missing",
        ),
        (json.dumps({"format": FORMAT, "version": 9, "executions": []}), "version 9"),
    ],
)
def test_import_refuses_bad_files_with_one_clear_line(
    cli, tmp_path: Path, content: str, phrase: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    result = cli("import", str(path))
    assert result.exit_code == 1
    assert phrase in result.output
    assert "Traceback" not in result.output


def test_predict_and_learn_say_why_they_cannot_answer(cli) -> None:
    missing = cli("predict", "translation", "2")
    assert missing.exit_code == 1
    assert "no registered agent can take tasks of type 'translation'" in missing.output
    observe = cli("predict", "echo", "1", env={"IMPERIUM_LEARNING_MODE": "observe"})
    assert observe.exit_code == 1
    assert "observe mode" in observe.output
    disabled = cli("learn", env={"IMPERIUM_LEARNING_ENABLED": "false"})
    assert disabled.exit_code == 1
    assert "learning is disabled" in disabled.output
    empty = cli("insights")
    assert "no insights yet" in empty.output
