"""The sandbox runner and agent, with real subprocesses (each run takes 20 ms to 1 s)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from imperium.adapters import sandbox
from imperium.adapters.sandbox import (
    HostSupport,
    SandboxError,
    UnsafePathError,
    host_support,
    isolation,
    isolation_available,
    run_isolated,
    run_pytest,
)
from imperium.agents.base import TaskContext, TaskFailed
from imperium.agents.loader import load_agent_class
from imperium.agents.sandbox import RUN_CODE, RUN_TESTS, SandboxAgent

pytestmark = pytest.mark.slow

PY = sys.executable
SYSTEM_PYTHON = "/usr/bin/python3"  # usable by other users, unlike a Python under /root

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


def python(code: str, **kwargs: Any) -> sandbox.RunResult:
    return run_isolated([PY, "-c", code], **kwargs)


def live_processes(marker: str) -> list[int]:
    """Processes (not zombies) whose command line holds ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if marker.encode() in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


def wait_until_gone(marker: str, seconds: float = 3.0) -> list[int]:
    deadline = time.monotonic() + seconds
    while (alive := live_processes(marker)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive


@pytest.fixture
def listener() -> Iterator[int]:
    """A TCP port on the host's loopback that accepts connections."""
    server = socket.create_server(("127.0.0.1", 0))
    yield server.getsockname()[1]
    server.close()


# ---------------------------------------------------------------------------- runner


def test_captures_exit_code_stdout_and_stderr() -> None:
    result = python("import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)")
    assert (result.exit_code, result.signal, result.timed_out) == (3, None, False)
    assert (result.stdout, result.stderr) == ("out\n", "err\n")
    assert not result.truncated
    assert result.killed_reason is None
    assert result.duration > 0
    assert result.cpu_time is not None


def test_stdin_and_a_missing_command() -> None:
    assert python("print(input()[::-1])", stdin="olleh\n").stdout == "hello\n"
    missing = run_isolated(["no-such-command-here"])
    assert missing.exit_code == 127
    assert "cannot run 'no-such-command-here'" in missing.stderr


def test_timeout_kills_the_command_and_its_children() -> None:
    marker = uuid.uuid4().hex
    code = (
        "import subprocess, sys, time\n"
        f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)  # {marker}'])\n"
        "print('spawned', flush=True)\n"
        "time.sleep(60)\n"
    )
    result = python(code, timeout=8)  # ample to start and print, far below the 60 s sleep
    assert result.timed_out
    assert result.killed_reason == "timeout"
    assert (result.exit_code, result.signal) == (None, "SIGKILL")
    assert result.stdout == "spawned\n"
    assert wait_until_gone(marker) == []


def test_processes_that_leave_the_group_die_with_the_run() -> None:
    if host_support().pid_problem:
        pytest.skip(f"no PID namespace here: {host_support().pid_problem}")
    marker = uuid.uuid4().hex
    code = (
        "import subprocess, sys\n"
        f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)  # {marker}'],"
        " start_new_session=True)\n"
    )
    result = python(code)
    assert result.exit_code == 0
    assert not result.timed_out
    assert wait_until_gone(marker) == []
    assert "PID namespace" in result.isolation["processes"]


def test_cpu_limit_kills_a_busy_loop() -> None:
    result = python("while True: pass", cpu_seconds=1, timeout=20)
    assert not result.timed_out
    assert result.signal in ("SIGXCPU", "SIGKILL")
    assert result.killed_reason == "cpu"
    assert result.cpu_time is not None
    assert result.cpu_time >= 0.9


def test_memory_limit_stops_a_large_allocation() -> None:
    result = python("block = bytearray(1024 ** 3)", memory_mb=256)
    assert result.exit_code != 0
    assert result.killed_reason == "memory"
    assert "MemoryError" in result.stderr


def test_file_size_limit_stops_a_large_file() -> None:
    result = python("open('big', 'wb').write(b'x' * 50 * 1024 * 1024)", file_size_mb=1)
    assert result.exit_code != 0 or result.signal == "SIGXFSZ"
    assert result.killed_reason == "file_size"


def test_no_network_inside_while_the_host_connects(listener: int) -> None:
    if not isolation_available():
        pytest.skip(f"no network namespace here: {host_support().net_problem}")
    connect = f"import socket; socket.create_connection(('127.0.0.1', {listener}), timeout=3)"
    socket.create_connection(("127.0.0.1", listener), timeout=3).close()  # the host can
    inside = python(connect)
    assert inside.exit_code != 0
    assert "OSError" in inside.stderr  # Network is unreachable: the namespace's lo is down
    assert inside.isolation["network"] == "none (network namespace via unshare)"
    allowed = python(connect, network=True)
    assert allowed.exit_code == 0, allowed.stderr
    assert allowed.isolation["network"] == "host network (requested)"


def test_fresh_working_directory_removed_afterwards(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "secret-of-the-parent.txt").write_text("x")
    code = "import json, os; print(json.dumps([os.getcwd(), sorted(os.listdir('.'))]))"
    first = python(code, files={"given.txt": "hi", "pkg/mod.py": ""})
    second = python(code)
    workdir, listing = json.loads(first.stdout)
    assert listing == ["given.txt", "pkg"]
    assert workdir != str(tmp_path)
    assert workdir != json.loads(second.stdout)[0]
    assert not Path(workdir).exists()
    assert first.isolation["workdir"] == "fresh temporary directory"


def test_environment_is_minimal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://secret@localhost/db")
    result = python("import json, os; print(json.dumps(dict(os.environ)))", env={"EXTRA": "1"})
    env = json.loads(result.stdout)
    assert "DATABASE_URL" not in env
    assert set(env) <= {"PATH", "HOME", "TMPDIR", "LANG", "PYTHONDONTWRITEBYTECODE", "EXTRA"}
    assert env["EXTRA"] == "1"
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"


@pytest.mark.parametrize("name", ["/etc/passwd", "../outside.py", "a/../../x.py", "", "."])
def test_file_names_that_escape_are_refused(name: str) -> None:
    with pytest.raises(UnsafePathError, match="relative path inside the sandbox"):
        run_isolated([PY, "-c", "pass"], files={name: "x"})


def test_bad_limits_commands_and_files_are_refused() -> None:
    with pytest.raises(ValueError, match="memory_mb must be a positive number"):
        run_isolated([PY, "-c", "pass"], memory_mb=0)
    with pytest.raises(ValueError, match="non-empty list"):
        run_isolated([])
    with pytest.raises(ValueError, match="cannot write file 'a/b'"):
        run_isolated([PY, "-c", "pass"], files={"a": "", "a/b": ""})


def test_a_timeout_before_the_command_starts_is_a_timeout_not_an_error() -> None:
    result = python("pass", timeout=0.001)
    assert result.timed_out or result.exit_code == 0


def test_output_is_capped_keeping_head_and_tail() -> None:
    result = python("print('start' + 'x' * 3_000_000 + 'end')")
    assert result.stdout_truncated
    assert result.truncated
    assert len(result.stdout) < sandbox.OUTPUT_CAP + 100
    assert result.stdout.startswith("start")
    assert result.stdout.endswith("end\n")
    assert "bytes omitted" in result.stdout


def test_the_report_names_what_is_not_enforced() -> None:
    result = python("import os; print(os.getuid())")
    rlimits = result.isolation["rlimits"]
    assert rlimits["cpu_seconds"] == 30
    assert rlimits["memory_mb"] == 512
    if result.stdout.strip() == "0":  # root: RLIMIT_NPROC does not apply
        assert rlimits["max_processes"] == "not enforced: RLIMIT_NPROC does not apply to root"
        assert result.isolation["user"].startswith("root (no uid switch: ")


def test_as_root_a_reachable_command_runs_as_a_fresh_uid_with_a_process_limit() -> None:
    if os.geteuid() != 0 or host_support().uid_problem or not Path(SYSTEM_PYTHON).exists():
        pytest.skip(f"needs root and {SYSTEM_PYTHON}: {host_support().uid_problem}")
    fork_bomb = (
        "import os, time\n"
        "forks = 0\n"
        "try:\n"
        "    while forks < 100:\n"
        "        if os.fork() == 0:\n"
        "            time.sleep(5); os._exit(0)\n"
        "        forks += 1\n"
        "except OSError as exc:\n"
        "    print(os.getuid(), forks, exc.errno)\n"
    )
    result = run_isolated([SYSTEM_PYTHON, "-c", fork_bomb], max_processes=8)
    uid, forks, errno = (int(n) for n in result.stdout.split())
    assert uid >= sandbox.UID_BASE
    assert forks < 8
    assert errno == 11
    assert result.isolation["rlimits"]["max_processes"] == 8
    assert result.isolation["user"] == f"uid {uid} (fresh and unprivileged; no_new_privs)"


def test_without_unshare_the_report_says_the_network_is_the_hosts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    why = "the unshare command (util-linux) is not installed"
    degraded = HostSupport(os.geteuid() == 0, None, why, why, "pretend")
    monkeypatch.setattr(isolation, "host_support", lambda: degraded)
    result = python("print('still runs')")
    assert result.stdout == "still runs\n"
    assert result.isolation["network"] == f"host network (unshare unavailable: {why})"
    assert result.isolation["processes"].startswith("process group only")


def test_a_broken_sandbox_raises_sandbox_error(monkeypatch: pytest.MonkeyPatch) -> None:
    broken = HostSupport(os.geteuid() == 0, shutil.which("false"), None, None, "pretend")
    monkeypatch.setattr(isolation, "host_support", lambda: broken)
    with pytest.raises(SandboxError, match="did not start the command"):
        python("pass")


# ---------------------------------------------------------------------------- pytest


def test_run_pytest_counts_passes_failures_and_skips() -> None:
    run = run_pytest(MIXED_SUITE)
    counts = (run.passed, run.failed, run.errors, run.skipped, run.total)
    assert counts == (3, 1, 0, 1, 5), run.run.stdout
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
        }
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
    run = run_pytest(tmp_path)
    assert (run.passed, run.total, run.reason) == (1, 1, None)


def test_run_pytest_timeout_leaves_no_counts() -> None:
    run = run_pytest({"test_slow.py": "import time\ndef test_slow(): time.sleep(60)\n"}, timeout=2)
    assert run.total is None
    assert run.run.timed_out
    assert run.reason == "pytest timed out after 2 s"


# ---------------------------------------------------------------------------- agent


def context(task_type: str, payload: Any) -> TaskContext:
    return TaskContext(task_id="t1", type=task_type, payload=payload, attempt=1, agent_id="sandbox")


def test_the_entry_point_loads_the_agent() -> None:
    assert load_agent_class("sandbox") is SandboxAgent
    assert SandboxAgent.blocking


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


async def test_a_directory_holding_the_servers_database_is_not_copied_in(
    tmp_path: Path,
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
    result = await agent.run(context(RUN_TESTS, {"path": str(tmp_path / "tests")}))
    assert result["tests"]["passed"] == 1


async def test_limits_are_clamped_to_the_agent_maxima() -> None:
    agent = SandboxAgent(config={"max_limits": {"timeout": 1}})
    payload = {"code": "import time; time.sleep(30)", "timeout": 100}
    result = await agent.run(context(RUN_CODE, payload))
    assert result["timed_out"]
    assert result["duration"] < 4
    assert result["isolation"]["timeout_seconds"] == 1


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


async def test_a_broken_sandbox_fails_the_attempt_retryably(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    broken = HostSupport(os.geteuid() == 0, shutil.which("false"), None, None, "pretend")
    monkeypatch.setattr(isolation, "host_support", lambda: broken)
    with pytest.raises(TaskFailed) as failure:
        await SandboxAgent().run(context(RUN_CODE, {"code": "pass"}))
    assert (failure.value.kind, failure.value.retryable) == ("sandbox_error", True)
