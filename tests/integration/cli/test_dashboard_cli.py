"""``imperium dashboard`` against SQLite and PostgreSQL: after importing a recorded history
and learning from it, the dashboard shows the agents in ranking order, the model's
accuracy, the insights and the success trend; ``--json`` gives the API's figures."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from imperium.interfaces.cli import dashboard
from imperium.interfaces.cli.main import app
from imperium.services.learning.transfer import FORMAT, VERSION, execution_to_json
from tests.support.learning_history import history


@pytest.fixture
def cli(migrated_database_url: str):
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(
            app, [*args], env={"DATABASE_URL": migrated_database_url, "COLUMNS": "250"}
        )

    return invoke


@pytest.fixture
def learned(cli, tmp_path: Path) -> None:
    """Agents good and bad, 400 recorded executions of theirs, and one learning cycle."""
    for agent in ("good", "bad"):
        result = cli("agents", "register", agent, "--type", "remote", "-c", "review")
        assert result.exit_code == 0, result.output
    source = tmp_path / "history.json"
    document = {
        "format": FORMAT,
        "version": VERSION,
        "executions": [execution_to_json(e) for e in history(400)],
    }
    source.write_text(json.dumps(document))
    imported = cli("import", str(source))
    assert imported.exit_code == 0, imported.output
    cycle = cli("learn")
    assert cycle.exit_code == 0, cycle.output


def _row(output: str, label: str) -> list[str]:
    """The cells of the trend row called ``label`` (``rate`` or ``n``)."""
    line = next(x for x in output.splitlines() if re.match(rf"│ {label} ", x))
    return line.strip("│ ").split()[1:]


@pytest.mark.usefixtures("learned")
def test_json_gives_the_dashboard_figures(cli) -> None:
    result = cli("dashboard", "--json")
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    successes = sum(e.outcome == "succeeded" for e in history(400))
    assert figures["executions_analysed"] == 400
    assert figures["attempts_learned_from"] == 400
    assert figures["success_rate"] == pytest.approx(successes / 400)
    trend = figures["success_trend"]
    assert len(trend) == 12
    assert sum(p["executions"] for p in trend) == 400
    assert [a["agent_id"] for a in figures["agent_rankings"]] == ["good", "bad"]
    good, bad = figures["agent_rankings"]
    assert good["learning_score"] > 80 > 40 > bad["learning_score"]
    assert (good["executions"], bad["executions"]) == (200, 200)
    assert {i["insight_type"] for i in figures["recent_insights"]} >= {
        "best_combo",
        "avoid_pattern",
    }
    assert figures["models"][0]["auc"] > 0.7
    assert [c["status"] for c in figures["recent_cycles"]] == ["completed"]


@pytest.mark.usefixtures("learned")
def test_the_dashboard_shows_rankings_trend_insights_and_models(cli) -> None:
    figures = json.loads(cli("dashboard", "--json").stdout)
    result = cli("dashboard")
    assert result.exit_code == 0, result.output
    out = result.output

    assert f"success rate {figures['success_rate']:.1%}" in out
    good = re.search(r"│ +1 +good ", out)
    bad = re.search(r"│ +2 +bad ", out)
    assert good is not None
    assert bad is not None
    assert good.start() < bad.start()

    trend = figures["success_trend"]
    assert _row(out, "n") == [str(p["executions"]) for p in trend]
    assert _row(out, "rate") == [f"{p['success_rate']:.0%}" for p in trend]

    for insight in figures["recent_insights"]:
        assert insight["description"] in out
    model = figures["models"][0]
    assert model["kind"] in out
    assert "AUC" in out
    assert f"{model['auc']:.3f}" in out
    assert f"{model['brier']:.3f}" in out
    assert "completed (manual)" in out
    assert "Nothing is recorded yet" not in out


def test_an_empty_database_says_so_plainly(cli) -> None:
    result = cli("dashboard")
    assert result.exit_code == 0, result.output
    assert "Nothing is recorded yet" in result.output
    assert "imperium import" in result.output
    assert "Agents by learning score" not in result.output
    figures = json.loads(cli("dashboard", "--json").stdout)
    assert figures["executions_analysed"] == 0
    assert figures["success_rate"] is None
    assert figures["success_trend"] == figures["agent_rankings"] == figures["models"] == []


def test_watch_needs_at_least_a_second_and_no_json(cli) -> None:
    zero = cli("dashboard", "--watch", "0")
    assert zero.exit_code == 2
    assert "Invalid value for '--watch'" in zero.output
    both = cli("dashboard", "--watch", "5", "--json")
    assert both.exit_code == 1
    assert "--watch and --json do not go together" in both.output


@pytest.mark.usefixtures("learned")
def test_watch_refreshes_until_ctrl_c(cli, monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 2:  # Ctrl-C during the second wait, after one refresh
            raise KeyboardInterrupt

    monkeypatch.setattr(dashboard, "_sleep", sleep)
    result = cli("dashboard", "--watch", "3")
    assert result.exit_code == 0, result.output
    assert waits == [3, 3]
    assert "Traceback" not in result.output
    assert re.search(r"│ +1 +good ", result.output)
    assert "every 3 s; Ctrl-C stops" in result.output
