"""What a newcomer meets first in the CLI (in-process): --version, full task ids at 80
columns, payloads shown as JSON, the custody result id, bench's help, the keys warning."""

from __future__ import annotations

import json

import pytest

from imperium import __version__
from imperium.interfaces.cli._common import console
from imperium.interfaces.cli.custody import print_test
from imperium.interfaces.cli.teams import _print_team


def test_version(cli) -> None:
    shown = cli("--version")
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.strip() == f"imperium {__version__}"


@pytest.mark.parametrize("columns", [80, 200])
def test_task_ids_are_whole_at_any_width(cli, columns: int, monkeypatch) -> None:
    monkeypatch.setattr(console, "_width", columns)  # Rich reads COLUMNS once, at import
    task = json.loads(cli("submit", "a-rather-long-task-type", "--json").stdout)
    listed = cli("tasks", "list")
    assert listed.exit_code == 0, listed.output
    assert task["id"] in listed.stdout
    assert max(len(line) for line in listed.stdout.splitlines()) <= columns


def test_payloads_and_events_are_shown_as_json(cli) -> None:
    payload = '{"text": "a b", "tags": ["x"], "ok": true}'
    task = json.loads(cli("submit", "echo", "--payload", payload, "--json").stdout)
    shown = cli("tasks", "show", task["id"]).stdout
    assert 'payload: {"text":"a b","tags":["x"],"ok":true}' in shown
    assert "'text'" not in shown  # no Python repr
    registered = cli("agents", "register", "e1", "--type", "echo", "--config", '{"k": [1]}')
    assert registered.exit_code == 0, registered.output
    assert 'config: {"k":[1]}' in cli("agents", "show", "e1").stdout


def test_custody_test_prints_the_result_id(capsys: pytest.CaptureFixture[str]) -> None:
    result = {
        "result_id": "r-42", "test_id": "sec-b-1", "passed": True, "score": 1.0,
        "threshold": 0.5, "xp_awarded": 50, "evaluation": {"checks": []},
    }  # fmt: skip
    metrics = {"custody_level": 2, "custody_xp": 150, "pass_rate": 1.0,
               "proposal_eligibility": "eligible"}  # fmt: skip
    out = {"test_result": result, "test_category": "security", "test_difficulty": "basic",
           "custody_metrics": metrics}  # fmt: skip
    print_test("scout", out)
    assert "imperium custody show r-42" in capsys.readouterr().out


def test_bench_help_says_what_it_prints(cli) -> None:
    shown = cli("bench", "--help").stdout
    assert "--json for JSON" in shown
    assert "(print JSON)" not in shown


def test_the_first_key_warns_that_every_client_now_needs_one(cli) -> None:
    first = cli("keys", "create", "--name", "admin", "--json")
    assert first.exit_code == 0, first.output
    assert "every client" in first.stderr
    assert json.loads(first.stdout)["role"] == "admin"  # the warning is not in the JSON
    second = cli("keys", "create", "--name", "ci")
    assert second.exit_code == 0, second.output
    assert "every client" not in second.stderr


def test_team_results_are_shown_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    team = {
        "id": "t1", "type": "review", "state": "succeeded", "members_succeeded": 1,
        "members": ["a1"], "quorum": 1, "chosen_by": "user", "results": {"a1": {"ok": True}},
        "member_states": {"a1": "succeeded"}, "task_ids": {"a1": "x1"},
    }  # fmt: skip
    _print_team(team)
    assert 'a1: succeeded (task x1) -> {"ok":true}' in capsys.readouterr().out
