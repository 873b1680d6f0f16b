"""Test suites run by pytest inside the sandbox (each run takes one to a few seconds)."""

from __future__ import annotations

from pathlib import Path

import pytest

from imperium.adapters.sandbox import run_pytest
from imperium.agents.base import TaskContext
from imperium.agents.sandbox import RUN_CODE, RUN_TESTS, SandboxAgent

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("sandbox_host")]

MIXED_SUITE = {
    "test_mixed.py": (
        "import pytest\n"
        "def test_one(): assert 1\n"
        "def test_two(): assert 2\n"
        "def test_three(): assert 3\n"
        "def test_breaks(): assert 1 == 2, 'one is not two'\n"
        "@pytest.mark.skip(reason='not today')\n"
        "def test_skipped(): pass\n"
    )
}


# The runner's own tests need none of the plugins installed beside pytest here (loading
# them takes a second a run); the Sandbox agent's tests below run as users' tests do.
PLAIN = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}


def context(task_type: str, payload: object) -> TaskContext:
    return TaskContext(task_id="t1", type=task_type, payload=payload, attempt=1, agent_id="sandbox")


def test_run_pytest_counts_passes_failures_and_skips() -> None:
    run = run_pytest(MIXED_SUITE, env=PLAIN)
    counts = (run.passed, run.failed, run.errors, run.skipped, run.total)
    assert counts == (3, 1, 0, 1, 5), run.run.stdout + run.run.stderr
    assert run.reason is None
    assert run.run.exit_code == 1
    [failure] = run.failures
    assert failure.kind == "failed"
    assert "test_breaks" in failure.name
    assert "one is not two" in failure.message


def test_run_pytest_on_a_syntax_error_reports_the_reason() -> None:
    run = run_pytest(
        {
            "solution.py": "def add(a, b:\n    return a + b\n",
            "test_solution.py": "from solution import add\ndef test_add(): assert add(1, 2) == 3\n",
        },
        env=PLAIN,
    )
    assert run.passed in (0, None)
    assert run.errors is None or run.errors >= 1
    assert run.reason is not None
    assert "collection" in run.reason
    assert any("SyntaxError" in f.message for f in run.failures)


def test_run_pytest_copies_a_directory(tmp_path: Path) -> None:
    (tmp_path / "test_dir.py").write_text("def test_ok(): pass\n")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "junk.pyc").write_text("junk")
    run = run_pytest(tmp_path, env=PLAIN)
    assert (run.passed, run.total, run.reason) == (1, 1, None), run.run.stderr


def test_run_pytest_timeout_leaves_no_counts() -> None:
    suite = {"test_slow.py": "import time\ndef test_slow(): time.sleep(600)\n"}
    run = run_pytest(suite, timeout=2, env=PLAIN)
    assert run.total is None
    assert run.run.timed_out
    assert run.reason == "pytest timed out after 2 s"


def test_tests_can_use_tmp_path_and_write_in_their_directory() -> None:
    suite = {
        "test_files.py": (
            "def test_tmp(tmp_path):\n"
            "    (tmp_path / 'a').write_text('x')\n"
            "    assert (tmp_path / 'a').read_text() == 'x'\n"
            "def test_here():\n"
            "    open('made.txt', 'w').write('y')\n"
        )
    }
    run = run_pytest(suite, env=PLAIN)
    assert (run.passed, run.total) == (2, 2), run.run.stdout + run.run.stderr


async def test_agent_runs_code() -> None:
    payload = {"code": "import sys\nprint(sys.stdin.read().upper())", "stdin": "abc"}
    result = await SandboxAgent(config={}).run(context(RUN_CODE, payload))
    assert (result["exit_code"], result["stdout"], result["tests"]) == (0, "ABC\n", None)
    assert set(result) >= {"signal", "timed_out", "stderr", "duration", "isolation"}


async def test_a_failing_program_is_still_a_successful_attempt() -> None:
    result = await SandboxAgent().run(context(RUN_CODE, {"code": "raise SystemExit(4)"}))
    assert result["exit_code"] == 4


async def test_agent_runs_tests_from_files_and_from_a_path(tmp_path: Path) -> None:
    agent = SandboxAgent(config={})
    result = await agent.run(context(RUN_TESTS, {"files": MIXED_SUITE, "args": ["-x"]}))
    assert result["tests"]["failed"] == 1
    assert result["tests"]["total"] == 4
    (tmp_path / "test_here.py").write_text("def test_ok(): pass\n")
    result = await agent.run(context(RUN_TESTS, {"path": str(tmp_path)}))
    assert result["tests"]["passed"] == 1
    assert result["exit_code"] == 0


async def test_the_agents_timeout_ends_a_run() -> None:
    agent = SandboxAgent(config={"max_limits": {"timeout": 2}})
    payload = {"code": "import time; time.sleep(600)", "timeout": 100}
    result = await agent.run(context(RUN_CODE, payload))
    assert result["timed_out"]
    assert result["killed_reason"] == "timeout"
    assert result["isolation"]["timeout_seconds"] == 2
