"""The sandbox runner with real processes under bubblewrap: exit codes and output, limits,
timeouts, the work directory and its clean-up (each run takes 50 ms to a few seconds)."""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from imperium.adapters import sandbox
from imperium.adapters.sandbox import (
    PYTHON,
    Host,
    SandboxError,
    SandboxPolicy,
    run_isolated,
)
from imperium.adapters.sandbox import runner as runner_module
from imperium.adapters.sandbox.plan import Plan

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("sandbox_host")]


def python(code: str, **kwargs: Any) -> sandbox.RunResult:
    return run_isolated([PYTHON, "-c", code], **kwargs)


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


def wait_until_gone(marker: str, seconds: float = 60.0) -> list[int]:
    deadline = time.monotonic() + seconds
    while (alive := live_processes(marker)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive


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
        f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)  # {marker}'])\n"
        "print('spawned', flush=True)\n"
        "time.sleep(600)\n"
    )
    result = python(code, timeout=15)  # ample to start and print, far below the sleep
    assert result.timed_out
    assert result.killed_reason == "timeout"
    assert (result.exit_code, result.signal) == (None, "SIGKILL")
    assert result.stdout == "spawned\n"
    assert wait_until_gone(marker) == []


def test_processes_that_leave_the_group_die_with_the_run() -> None:
    marker = uuid.uuid4().hex
    code = (
        "import subprocess, sys\n"
        f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)  # {marker}'],"
        " start_new_session=True)\n"
    )
    result = python(code)
    assert result.exit_code == 0
    assert not result.timed_out
    assert wait_until_gone(marker) == []
    assert "PID namespace" in result.isolation["processes"]


def test_cpu_limit_kills_a_busy_loop() -> None:
    result = python("while True: pass", cpu_seconds=1, timeout=60)
    assert not result.timed_out
    assert result.signal in ("SIGXCPU", "SIGKILL")
    assert result.killed_reason == "cpu"
    # the CPU time is reported; how much of it the kernel counted by the time the 1 s limit
    # struck varies with the load on the machine (0.88 s has been seen), so no bound on it
    assert result.cpu_time is not None
    assert result.cpu_time > 0


def test_memory_limit_stops_a_large_allocation() -> None:
    result = python("block = bytearray(1024 ** 3)", memory_mb=256)
    assert result.exit_code != 0
    assert result.killed_reason == "memory"
    assert "MemoryError" in result.stderr


def test_file_size_limit_stops_a_large_file() -> None:
    result = python("open('big', 'wb').write(b'x' * 50 * 1024 * 1024)", file_size_mb=1)
    assert result.exit_code != 0 or result.signal == "SIGXFSZ"
    assert result.killed_reason == "file_size"


def test_fresh_working_directory_removed_afterwards(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "secret-of-the-parent.txt").write_text("x")
    made: list[Path] = []
    real_mkdtemp = runner_module.tempfile.mkdtemp

    def mkdtemp(**kwargs: Any) -> str:
        made.append(Path(real_mkdtemp(**kwargs)))
        return str(made[-1])

    monkeypatch.setattr(runner_module.tempfile, "mkdtemp", mkdtemp)
    code = "import json, os; print(json.dumps([os.getcwd(), sorted(os.listdir('.'))]))"
    first = python(code, files={"given.txt": "hi", "pkg/mod.py": ""})
    second = python(code)
    assert json.loads(first.stdout) == ["/sandbox", ["given.txt", "pkg"]]
    assert json.loads(second.stdout) == ["/sandbox", []]
    assert len(made) == 2
    assert made[0] != made[1]
    assert not made[0].exists()
    assert not made[1].exists()
    assert first.isolation["workdir"] == "fresh temporary directory"


def test_files_the_command_leaves_are_collected() -> None:
    result = run_isolated(
        [PYTHON, "-c", "open('out.txt', 'w').write('made inside')"], collect=["out.txt", "none"]
    )
    assert result.collected == {"out.txt": "made inside"}


def test_environment_is_minimal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://secret@localhost/db")
    result = python("import json, os; print(json.dumps(dict(os.environ)))", env={"EXTRA": "1"})
    env = json.loads(result.stdout)
    assert "DATABASE_URL" not in env
    allowed = {"PATH", "HOME", "TMPDIR", "LANG", "PYTHONDONTWRITEBYTECODE", "PYTHONPATH"}
    assert set(env) <= allowed | {"EXTRA", "PWD"}  # bubblewrap sets PWD (/sandbox)
    assert env["EXTRA"] == "1"
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"


@pytest.mark.parametrize("name", ["/etc/passwd", "../outside.py", "a/../../x.py", "", "."])
def test_file_names_that_escape_are_refused(name: str) -> None:
    with pytest.raises(sandbox.UnsafePathError, match="relative path inside the sandbox"):
        run_isolated([PYTHON, "-c", "pass"], files={name: "x"})


def test_bad_limits_commands_and_files_are_refused() -> None:
    with pytest.raises(ValueError, match="memory_mb must be a positive number"):
        run_isolated([PYTHON, "-c", "pass"], memory_mb=0)
    with pytest.raises(ValueError, match="non-empty list"):
        run_isolated([])
    with pytest.raises(ValueError, match="cannot write file 'a/b'"):
        run_isolated([PYTHON, "-c", "pass"], files={"a": "", "a/b": ""})


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


def test_a_broken_sandbox_raises_sandbox_error(monkeypatch: pytest.MonkeyPatch) -> None:
    real = runner_module.make_plan

    def failing_bwrap(*args: Any) -> Plan:
        return dataclasses.replace(real(*args), prefix=["/bin/false"])

    monkeypatch.setattr(runner_module, "make_plan", failing_bwrap)
    with pytest.raises(SandboxError, match="did not start the command"):
        python("pass")


def test_unsafe_runs_work_without_bubblewrap_and_say_so(sandbox_host: Host) -> None:
    policy = SandboxPolicy(bwrap="/nonexistent/bwrap", unsafe=True)
    result = python("import os; print('still runs', os.getcwd() != '/sandbox')", policy=policy)
    assert result.stdout == "still runs True\n"
    assert result.isolation["sandbox"].startswith("unsafe: no isolation")
    assert result.isolation["network"] == "host network (no isolation)"
