"""The Guardian agent: real bandit, ruff and radon runs over files with known problems
(tests/data/guardian), snippets, directories, filters and payloads it must refuse."""

from __future__ import annotations

import json
import stat
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from imperium.agents._code_scan import complexity_severity, ruff_severity
from imperium.agents.base import TaskContext, TaskFailed
from imperium.agents.guardian import (
    MAX_SNIPPET_BYTES,
    GuardianAgent,
    ScanRequest,
    collect_files,
    scan,
)
from imperium.agents.loader import load_agent_class

DATA = Path(__file__).resolve().parents[2] / "data" / "guardian"


def review(payload: Any, task_type: str = "code_review", **config: Any) -> dict[str, Any]:
    ctx = TaskContext("t-1", task_type, payload, 1, "guardian")
    return GuardianAgent(config=config).run_blocking(ctx)


def found(result: dict[str, Any], **fields: Any) -> list[dict[str, Any]]:
    return [f for f in result["findings"] if all(f[k] == v for k, v in fields.items())]


@pytest.fixture(scope="module")
def data_scan() -> dict[str, Any]:
    return review({"path": str(DATA)})


# file, tool, rule, severity, line, words of the suggestion
KNOWN_PROBLEMS = [
    ("shell_injection.py", "bandit", "B602", "critical", 7, "shell=False"),
    ("eval_input.py", "bandit", "B307", "medium", 5, "ast.literal_eval"),
    ("hardcoded_password.py", "bandit", "B105", "low", 3, "environment or a secret store"),
    ("pickle_untrusted.py", "bandit", "B301", "medium", 8, "json"),
    ("yaml_load.py", "bandit", "B506", "medium", 7, "yaml.safe_load"),
    ("assert_auth.py", "bandit", "B101", "low", 5, "raise an exception"),
    ("unused_import.py", "ruff", "F401", "low", 3, "remove the unused import"),
    ("undefined_name.py", "ruff", "F821", "high", 5, "define or import the name"),
    ("complex_function.py", "radon", "CC", "low", 4, "14 if/elif (lines 5, 7, 9"),
]


@pytest.mark.parametrize(
    ("file", "tool", "rule", "severity", "line", "advice"),
    KNOWN_PROBLEMS,
    ids=[p[0].removesuffix(".py") for p in KNOWN_PROBLEMS],
)
def test_each_known_problem_is_found(
    data_scan: dict[str, Any],
    file: str,
    tool: str,
    rule: str,
    severity: str,
    line: int,
    advice: str,
) -> None:
    [finding] = found(data_scan, file=file, tool=tool, rule=rule)
    assert (finding["severity"], finding["line"]) == (severity, line)
    assert advice.lower() in finding["suggestion"].lower()
    assert finding["column"] >= 1
    assert finding["end_line"] >= line
    assert finding["message"]
    assert (finding["confidence"] is None) == (tool != "bandit")


def test_complexity_is_reported_with_its_rank(data_scan: dict[str, Any]) -> None:
    [finding] = found(data_scan, tool="radon")
    assert "`next_action` has cyclomatic complexity 19 (rank C)" in finding["message"]
    assert finding["end_line"] == 34


def test_the_clean_file_has_no_findings(data_scan: dict[str, Any]) -> None:
    assert found(data_scan, file="clean.py") == []
    alone = review({"path": str(DATA / "clean.py")})
    assert (alone["findings"], alone["errors"]) == ([], [])
    assert alone["summary"]["files_scanned"] == 1
    assert alone["summary"]["lines_scanned"] == 10


def test_result_shape_summary_and_order(data_scan: dict[str, Any]) -> None:
    findings, summary = data_scan["findings"], data_scan["summary"]
    python_files = sorted(DATA.glob("*.py"))
    assert summary["files_scanned"] == summary["files_found"] == len(python_files)
    assert summary["lines_scanned"] == sum(len(p.read_text().splitlines()) for p in python_files)
    assert sum(summary["by_severity"].values()) == sum(summary["by_tool"].values())
    assert sum(summary["by_tool"].values()) == len(findings)
    assert summary["by_severity"]["critical"] == 1
    assert set(data_scan["tools"]) == {"bandit", "ruff", "radon"}
    assert all(data_scan["tools"].values())
    assert (data_scan["truncated"], data_scan["errors"], data_scan["notes"]) == (False, [], [])
    order = ["critical", "high", "medium", "low"]
    keys = [(order.index(f["severity"]), f["file"], f["line"]) for f in findings]
    assert keys == sorted(keys)


def test_ruff_copies_of_bandit_findings_are_dropped(data_scan: dict[str, Any]) -> None:
    assert found(data_scan, tool="ruff", rule="S602") == []
    alone = review({"path": str(DATA / "shell_injection.py"), "checks": ["ruff"]})
    [finding] = found(alone, rule="S602")
    assert (finding["severity"], finding["line"]) == ("high", 7)
    assert "shell=False" in finding["suggestion"]
    assert list(alone["tools"]) == ["ruff"]
    assert alone["summary"]["by_tool"] == {"ruff": len(alone["findings"])}


async def test_a_snippet_through_the_agent_interface(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    code = "import os\n\n\ndef handle(request):\n    os.system('ls ' + request.path)\n"
    payload = {"code": code, "filename": "handler.py"}
    ctx = TaskContext("t-2", "code_review", payload, 1, "guardian")

    result = await GuardianAgent(config={}).run(ctx)

    [finding] = found(result, rule="B605")
    assert (finding["file"], finding["line"], finding["severity"]) == ("handler.py", 5, "critical")
    assert result["summary"]["files_scanned"] == 1
    assert list(scratch.iterdir()) == []  # the temporary directory is gone


def test_a_snippet_that_does_not_parse_is_reported_not_hidden() -> None:
    result = review({"code": "def broken(:\n    pass\n"})
    syntax = found(result, rule="invalid-syntax")
    assert syntax[0]["line"] == 1
    assert {(f["file"], f["tool"], f["severity"]) for f in syntax} == {
        ("snippet.py", "ruff", "high")
    }
    tools = {e["tool"] for e in result["errors"]}
    assert {"bandit", "radon"} <= tools
    assert all(e["file"] == "snippet.py" for e in result["errors"])


def test_nosec_silences_bandit_and_ruffs_copy() -> None:
    code = (
        "import subprocess\n\n\ndef go(cmd):\n    subprocess.call(cmd, shell=True)  # nosec B602\n"
    )
    result = review({"code": code, "checks": ["bandit", "ruff"]})
    assert found(result, line=5) == []


def test_asserts_are_fine_in_tests_but_not_in_code(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    check = "def test_it(x):\n    assert x\n"
    (tmp_path / "tests" / "test_thing.py").write_text(check)
    (tmp_path / "auth.py").write_text(check.replace("test_it", "allow"))
    result = review({"path": str(tmp_path), "checks": ["bandit"]})
    assert [(f["file"], f["rule"]) for f in result["findings"]] == [("auth.py", "B101")]


def test_a_directory_scan_skips_environments_and_caches(tmp_path: Path) -> None:
    for name in [
        "app/main.py",
        "app/util/helpers.py",
        "app/notes.txt",
        ".venv/lib/site.py",
        "app/__pycache__/main.py",
        "node_modules/pkg/x.py",
        ".git/hooks/hook.py",
        "env/pyvenv.cfg",
        "env/lib/module.py",
    ]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("def f(x):\n    return x\n")

    result = review({"paths": [str(tmp_path)], "checks": ["radon"]})

    assert result["summary"]["files_scanned"] == 2
    assert result["summary"]["lines_scanned"] == 4
    files = collect_files([tmp_path])
    assert [files.relative(p) for p in files.files] == ["app/main.py", "app/util/helpers.py"]


def test_more_files_than_the_limit_are_truncated_and_said_so(tmp_path: Path) -> None:
    for i in range(5):
        (tmp_path / f"m{i}.py").write_text("x = 1\n")
    files = collect_files([tmp_path], max_files=3)
    assert (len(files.files), files.found, files.truncated) == (3, 5, True)

    result = scan(files, ScanRequest(checks=("radon",))).result

    assert result["truncated"] is True
    assert result["summary"]["files_scanned"] == 3
    assert "found 5 Python files and scanned the first 3" in result["notes"][0]


def test_paths_are_reported_relative_to_their_common_directory(tmp_path: Path) -> None:
    for name in ("a/one.py", "b/two.py"):
        (tmp_path / name).parent.mkdir()
        (tmp_path / name).write_text("def f(x):\n    if x:\n        return 1\n    return 2\n")
    paths = [str(tmp_path / "a" / "one.py"), str(tmp_path / "b")]
    result = review({"paths": paths, "checks": ["radon"], "complexity_threshold": 1})
    assert sorted(f["file"] for f in result["findings"]) == ["a/one.py", "b/two.py"]


def test_min_severity_filters(data_scan: dict[str, Any]) -> None:
    result = review({"path": str(DATA), "min_severity": "high"})
    assert {f["severity"] for f in result["findings"]} == {"critical", "high"}
    expected = [f for f in data_scan["findings"] if f["severity"] in ("critical", "high")]
    assert result["findings"] == expected
    assert result["summary"]["by_severity"] == {"critical": 1, "high": 1, "medium": 0, "low": 0}


def test_complexity_threshold_is_honoured() -> None:
    code = "def f(a, b):\n    if a:\n        return 1\n    if b:\n        return 2\n    return 3\n"
    low = review({"code": code, "checks": ["radon"], "complexity_threshold": 2})
    [finding] = low["findings"]
    assert (finding["rule"], finding["severity"], finding["line"]) == ("CC", "low", 1)
    assert "2 if/elif (lines 2, 4)" in finding["suggestion"]
    assert review({"code": code, "checks": ["radon"]})["findings"] == []


def test_security_scan_defaults_to_bandit() -> None:
    result = review({"paths": [str(DATA / "undefined_name.py")]}, task_type="security_scan")
    assert (list(result["tools"]), result["findings"]) == (["bandit"], [])


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ("print(1)", "the payload must be an object, not str"),
        ({}, "give exactly one of code, path or paths (got none)"),
        ({"code": "x = 1", "path": "."}, "give exactly one of code, path or paths"),
        ({"cod": "x = 1"}, "unknown payload keys ['cod']"),
        ({"code": 42}, '"code" must be a string of Python source, not int'),
        ({"code": "x", "filename": "../evil.py"}, '"filename" must be a plain file name'),
        ({"code": "x", "filename": "notes.txt"}, "ending in .py"),
        ({"path": str(DATA), "filename": "a.py"}, '"filename" goes with "code" only'),
        ({"path": ""}, '"path" must be a non-empty string'),
        ({"paths": []}, '"paths" a non-empty list'),
        ({"path": "/no/such/dir"}, "path '/no/such/dir' does not exist"),
        ({"path": str(DATA / "README.md")}, "is not a Python (.py) file or a directory"),
        ({"path": str(DATA), "checks": ["pylint"]}, '"checks" must be a non-empty list'),
        ({"path": str(DATA), "checks": []}, '"checks" must be a non-empty list'),
        ({"path": str(DATA), "min_severity": "severe"}, '"min_severity" must be one of'),
        ({"path": str(DATA), "complexity_threshold": 0}, "must be a whole number >= 1"),
        ({"path": str(DATA), "complexity_threshold": True}, "must be a whole number >= 1"),
        ({"code": "x" * (MAX_SNIPPET_BYTES + 1)}, 'send a "path" instead'),
    ],
)
def test_bad_payloads_say_what_to_send(payload: Any, message: str) -> None:
    with pytest.raises(TaskFailed) as failed:
        review(payload)
    assert (failed.value.kind, failed.value.retryable) == ("bad_input", False)
    assert message in str(failed.value)


def test_shape_errors_include_the_payload_help() -> None:
    with pytest.raises(TaskFailed, match=r'send \{"code": "<python source>"'):
        review({"snippet": "x = 1"})


def test_other_task_types_and_paths_outside_allowed_roots_are_refused(tmp_path: Path) -> None:
    with pytest.raises(TaskFailed, match="does code_review and security_scan tasks, not 'lint'"):
        review({"path": str(DATA)}, task_type="lint")
    with pytest.raises(TaskFailed, match="is outside the allowed roots") as failed:
        review({"path": str(DATA)}, allowed_roots=[str(tmp_path)])
    assert failed.value.kind == "bad_input"


SECRET = "hunter2_the_secret_of_the_outside"
# each tool would quote it: bandit the password, ruff the undefined name, radon the function
SECRET_SOURCE = f"""password = "{SECRET}"


def {SECRET}(x):
    if x:
        return {SECRET}_undefined
    return 0
"""


@pytest.fixture
def linked_out(tmp_path: Path) -> Path:
    """A project (``root``) whose files link out: to a secret outside the roots, to the
    server's database (inside the root), and to a file of its own."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "pkg").mkdir(parents=True)
    outside.mkdir()
    (outside / "secret.py").write_text(SECRET_SOURCE)
    (root / "imperium.db").write_text(f'token = "{SECRET}"\n')
    (root / "app.py").write_text("import subprocess\nsubprocess.call('ls', shell=True)\n")
    (root / "leak.py").symlink_to(outside / "secret.py")
    (root / "pkg" / "db.py").symlink_to(root / "imperium.db")
    (root / "again.py").symlink_to(root / "app.py")
    (root / "outside_dir").symlink_to(outside, target_is_directory=True)  # not followed
    return root


def test_files_that_link_out_of_the_roots_are_skipped_and_said_so(linked_out: Path) -> None:
    config: dict[str, Any] = {
        "allowed_roots": [str(linked_out)],
        "denied_files": [str(linked_out / "imperium.db")],
    }
    result = review({"path": str(linked_out)}, **config)

    assert SECRET not in json.dumps(result)
    assert result["skipped"] == [
        {"file": "leak.py", "reason": "outside IMPERIUM_FILE_ROOTS"},
        {"file": "pkg/db.py", "reason": "the server's database"},
    ]
    assert "2 files not read" in " ".join(result["notes"])
    assert {f["file"] for f in result["findings"]} == {"app.py"}  # again.py is app.py
    assert result["summary"]["files_scanned"] == 1


@pytest.mark.parametrize("tool", ["bandit", "ruff", "radon"])
def test_no_tool_is_given_a_link_or_a_directory(linked_out: Path, tool: str) -> None:
    config: dict[str, Any] = {
        "allowed_roots": [str(linked_out)],
        "denied_files": [str(linked_out / "imperium.db")],
    }
    result = review({"path": str(linked_out), "checks": [tool], "complexity_threshold": 1},
                    **config)  # fmt: skip
    assert SECRET not in json.dumps(result)
    assert result["errors"] == []


def test_named_files_that_resolve_out_of_the_roots_are_refused(linked_out: Path) -> None:
    roots: dict[str, Any] = {"allowed_roots": [str(linked_out)]}
    with pytest.raises(TaskFailed, match="is outside the allowed roots"):
        review({"path": str(linked_out / "leak.py")}, **roots)
    denied: dict[str, Any] = {"denied_files": [str(linked_out / "imperium.db")]}
    with pytest.raises(TaskFailed, match="is the server's database, which the agents never"):
        review({"path": str(linked_out / "pkg" / "db.py")}, **roots, **denied)


@pytest.fixture
def broken_python(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An interpreter stand-in that cannot run modules: ``python -m bandit`` fails as it
    would when the tool is broken (non-zero exit, no JSON)."""
    script = tmp_path / "python"
    script.write_text('#!/bin/sh\necho "No module named $2" >&2\nexit 1\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setattr(sys, "executable", str(script))
    return script


@pytest.mark.usefixtures("broken_python")
def test_a_tool_that_cannot_run_is_reported_and_the_others_go_on() -> None:
    result = review({"path": str(DATA / "complex_function.py")})
    messages = {e["tool"]: e["message"] for e in result["errors"]}
    assert set(messages) == {"bandit", "ruff"}
    assert "bandit exited with code 1 and no JSON: No module named bandit" in messages["bandit"]
    assert [f["tool"] for f in result["findings"]] == ["radon"]


@pytest.mark.usefixtures("broken_python")
def test_when_every_requested_tool_fails_the_attempt_fails() -> None:
    with pytest.raises(TaskFailed, match="every requested tool failed: bandit exited") as failed:
        review({"path": str(DATA), "checks": ["bandit", "ruff"]})
    assert (failed.value.kind, failed.value.retryable) == ("tool_error", False)


def test_a_tool_that_hangs_is_stopped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = tmp_path / "python"
    script.write_text("#!/bin/sh\nexec sleep 30\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setattr(sys, "executable", str(script))
    with pytest.raises(TaskFailed, match=r"bandit did not finish within 0\.3 s") as failed:
        review({"path": str(DATA), "checks": ["bandit"]}, timeout_seconds=0.3)
    assert failed.value.retryable is True


@pytest.mark.parametrize(
    ("rule", "severity"),
    [
        ("F821", "high"),
        ("F401", "low"),
        ("F811", "medium"),
        ("S602", "high"),
        ("S105", "low"),
        ("S608", "medium"),
        ("B006", "medium"),
        ("SIM102", "low"),
        ("E711", "low"),
        ("UP006", "low"),
        ("W605", "low"),
        ("invalid-syntax", "high"),
    ],
)
def test_ruff_severities(rule: str, severity: str) -> None:
    assert ruff_severity(rule) == severity


@pytest.mark.parametrize(
    ("rank", "severity"),
    [("B", "low"), ("C", "low"), ("D", "medium"), ("E", "high"), ("F", "critical")],
)
def test_complexity_severities(rank: str, severity: str) -> None:
    assert complexity_severity(rank) == severity


def test_loads_through_its_entry_point() -> None:
    assert load_agent_class("guardian") is GuardianAgent
    assert GuardianAgent.blocking is True
