"""The sandbox agent: payloads, limits, the server's policy and how failures are reported.
The runs are faked here, except where the sandbox refuses before starting anything; real
runs are in tests/integration/sandbox."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from imperium.adapters.sandbox import (
    PYTHON,
    RunResult,
    SandboxError,
    SandboxPolicy,
    TestRun,
)
from imperium.agents import sandbox as agent_module
from imperium.agents.base import TaskContext, TaskFailed
from imperium.agents.loader import load_agent_class
from imperium.agents.sandbox import RUN_CODE, RUN_TESTS, SandboxAgent

MISSING = SandboxPolicy(bwrap="/nonexistent/bwrap")


def context(task_type: str, payload: Any, services: dict[str, Any] | None = None) -> TaskContext:
    return TaskContext(
        task_id="t1", type=task_type, payload=payload, attempt=1, agent_id="sandbox",
        services=services or {},
    )  # fmt: skip


def finished(**overrides: Any) -> RunResult:
    fields: dict[str, Any] = {
        "exit_code": 0, "signal": None, "timed_out": False, "stdout": "out\n", "stderr": "",
        "stdout_truncated": False, "stderr_truncated": False, "duration": 0.1,
        "isolation": {"sandbox": "bubblewrap"},
    }  # fmt: skip
    return RunResult(**{**fields, **overrides})


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What the agent asked the sandbox to run (run_isolated and run_pytest, faked)."""
    seen: list[dict[str, Any]] = []

    def run_isolated(command: list[str], **kwargs: Any) -> RunResult:
        seen.append({"command": command, **kwargs})
        return finished()

    def run_pytest(project: Any, **kwargs: Any) -> TestRun:
        seen.append({"project": project, **kwargs})
        return TestRun(finished(exit_code=1), 1, 1, 0, 0, 2, (), None)

    monkeypatch.setattr(agent_module, "run_isolated", run_isolated)
    monkeypatch.setattr(agent_module, "run_pytest", run_pytest)
    return seen


def test_the_entry_point_loads_the_agent() -> None:
    assert load_agent_class("sandbox") is SandboxAgent
    assert SandboxAgent.blocking


async def test_code_runs_as_main_py_under_the_sandboxs_python(
    calls: list[dict[str, Any]],
) -> None:
    payload = {"code": "print(input())", "stdin": "abc"}
    result = await SandboxAgent(config={}).run(context(RUN_CODE, payload))
    [call] = calls
    assert call["command"] == [PYTHON, "main.py"]
    assert (call["files"], call["stdin"]) == ({"main.py": "print(input())"}, "abc")
    assert (result["exit_code"], result["stdout"], result["tests"]) == (0, "out\n", None)
    assert result["isolation"] == {"sandbox": "bubblewrap"}


async def test_tests_are_counted(calls: list[dict[str, Any]]) -> None:
    payload = {"files": {"test_a.py": "def test_a(): pass\n"}, "args": ["-x"]}
    result = await SandboxAgent(config={}).run(context(RUN_TESTS, payload))
    assert calls[0]["args"] == ["-x"]
    assert (result["tests"]["passed"], result["tests"]["failed"]) == (1, 1)


async def test_limits_are_clamped_and_the_cpu_limit_follows_the_timeout(
    calls: list[dict[str, Any]],
) -> None:
    agent = SandboxAgent(config={"max_limits": {"timeout": 100}, "limits": {"memory_mb": 256}})
    await agent.run(context(RUN_CODE, {"code": "pass", "timeout": 1000}))
    await agent.run(context(RUN_CODE, {"code": "pass", "timeout": 60}))
    limits = [(c["timeout"], c["cpu_seconds"], c["memory_mb"], c["network"]) for c in calls]
    assert limits == [(100, 300, 256, False), (60, 60, 256, False)]


async def test_the_policy_is_the_servers_not_the_agent_configs(
    calls: list[dict[str, Any]],
) -> None:
    """An agent registered with a config cannot turn the sandbox off or run code as root:
    only what the server lends (from its settings) counts."""
    agent = SandboxAgent(config={"unsafe": True, "uid": 0, "policy": "none"})
    await agent.run(context(RUN_CODE, {"code": "pass"}))
    lent = SandboxPolicy(uid=1234, unsafe=True)
    await agent.run(context(RUN_CODE, {"code": "pass"}, {"sandbox_policy": lent}))
    assert [c["policy"] for c in calls] == [SandboxPolicy(), lent]
    assert SandboxPolicy() == SandboxPolicy(uid=65534, unsafe=False)


@pytest.mark.parametrize(
    ("task_type", "payload", "message"),
    [
        (RUN_CODE, "print(1)", "JSON object payload"),
        (RUN_CODE, {}, "needs 'code'"),
        (RUN_CODE, {"code": "x", "language": "rust"}, "not supported"),
        (RUN_CODE, {"code": "x", "limits": {"memory_mb": -1}}, "positive number"),
        (RUN_CODE, {"code": "x", "limits": {"disk": 1}}, "unknown limits"),
        (RUN_CODE, {"code": "x", "network": True}, "network access is off"),
        (RUN_TESTS, {}, "either 'files'"),
        (RUN_TESTS, {"files": {"a": "b"}, "path": "."}, "either 'files'"),
        (RUN_TESTS, {"path": "/no/such/dir"}, "existing directory"),
        (RUN_TESTS, {"files": {"../up.py": ""}}, "relative path inside the sandbox"),
        (RUN_TESTS, {"files": {"t.py": ""}, "args": "-x"}, "list of strings"),
        ("compile", {}, "not 'compile'"),
    ],
)
async def test_bad_payloads_fail_at_once(task_type: str, payload: Any, message: str) -> None:
    with pytest.raises(TaskFailed, match=message) as failure:
        await SandboxAgent().run(context(task_type, payload))
    assert (failure.value.kind, failure.value.retryable) == ("bad_input", False)


@pytest.mark.parametrize(
    ("task_type", "payload"),
    [(RUN_CODE, {"code": "print(1)"}), (RUN_TESTS, {"files": {"test_a.py": ""}})],
)
async def test_without_bubblewrap_the_task_fails_for_good_saying_what_to_do(
    task_type: str, payload: Any
) -> None:
    with pytest.raises(TaskFailed) as failure:
        await SandboxAgent().run(context(task_type, payload, {"sandbox_policy": MISSING}))
    assert (failure.value.kind, failure.value.retryable) == ("sandbox_unavailable", False)
    message = str(failure.value)
    assert "bubblewrap (/nonexistent/bwrap) is not installed" in message
    assert "apt-get install bubblewrap" in message
    assert "IMPERIUM_SANDBOX_UNSAFE=1" in message


async def test_a_broken_sandbox_fails_the_attempt_retryably(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(command: list[str], **kwargs: Any) -> RunResult:
        raise SandboxError("the sandbox did not start the command (bwrap: mount failed)")

    monkeypatch.setattr(agent_module, "run_isolated", broken)
    with pytest.raises(TaskFailed, match="mount failed") as failure:
        await SandboxAgent().run(context(RUN_CODE, {"code": "pass"}))
    assert (failure.value.kind, failure.value.retryable) == ("sandbox_error", True)


async def test_a_directory_is_handed_to_run_pytest(
    calls: list[dict[str, Any]], tmp_path: Path
) -> None:
    await SandboxAgent(config={}).run(context(RUN_TESTS, {"path": str(tmp_path)}))
    assert calls[0]["project"] == tmp_path


async def test_a_directory_holding_the_servers_database_is_not_copied_in(
    calls: list[dict[str, Any]], tmp_path: Path
) -> None:
    """The default root is the directory serve runs in, beside ./imperium.db: running its
    tests would copy the database into the sandbox, where the tests could read it."""
    (tmp_path / "imperium.db").write_text("api keys, payloads")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_here.py").write_text("def test_ok(): pass\n")
    config = {"allowed_roots": [str(tmp_path)], "denied_files": [str(tmp_path / "imperium.db")]}
    agent = SandboxAgent(config=config)
    with pytest.raises(TaskFailed, match="holds the server's database") as failure:
        await agent.run(context(RUN_TESTS, {"path": str(tmp_path)}))
    assert failure.value.kind == "bad_input"
    assert calls == []
    await agent.run(context(RUN_TESTS, {"path": str(tmp_path / "tests")}))
    assert calls[0]["project"] == tmp_path / "tests"
