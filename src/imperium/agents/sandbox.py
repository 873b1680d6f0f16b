"""``sandbox``: runs code and test suites isolated (``imperium.adapters.sandbox``: a
bubblewrap sandbox, as an unprivileged uid, with no network and only its work directory
writable).

Task types:

- ``run_code``: ``{"code": "...", "language"?: "python", "stdin"?: "", "timeout"?: s,
  "limits"?: {...}}`` runs ``python main.py`` on the code.
- ``run_tests``: ``{"files": {"name": "content", ...}}`` or ``{"path": "<directory>"}``,
  ``"args"?: [...]``, ``"timeout"?``, ``"limits"?`` runs pytest and counts the results.

``limits`` may set ``timeout``, ``cpu_seconds``, ``memory_mb``, ``file_size_mb`` and
``max_processes``; each is clamped to the agent's ``max_limits``. When only ``timeout`` is
raised, the CPU limit follows it (a suite allowed 120 s should not die at 30 s of CPU).
Config: ``{"limits": {defaults}, "max_limits": {maxima}, "allow_network": false}``.

How runs are isolated is the server's choice, not the agent's config: the server lends
a ``SandboxPolicy`` as ``ctx.services["sandbox_policy"]`` (from IMPERIUM_SANDBOX_UID and
IMPERIUM_SANDBOX_UNSAFE); without one, the default (uid 65534, never unsafe) applies.

A command that fails or tests that fail still make a successful attempt: the result says
what happened. A broken sandbox fails the attempt (``sandbox_error``, retryable); a host
that cannot isolate code fails it for good (``sandbox_unavailable``, with what to install);
a bad payload fails the task at once (``bad_input``).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from imperium.adapters.sandbox import (
    PYTHON,
    RunResult,
    SandboxError,
    SandboxPolicy,
    SandboxUnavailableError,
    TestRun,
    run_isolated,
    run_pytest,
)
from imperium.agents._file_access import ANYWHERE, OUTSIDE_ROOTS, FileAccess
from imperium.agents.base import Agent, TaskContext, TaskFailed

RUN_CODE = "run_code"
RUN_TESTS = "run_tests"
TASK_TYPES = (RUN_CODE, RUN_TESTS)

DEFAULT_LIMITS: dict[str, float] = {
    "timeout": 30,
    "cpu_seconds": 30,
    "memory_mb": 512,
    "file_size_mb": 16,
    "max_processes": 64,
}
MAX_LIMITS: dict[str, float] = {
    "timeout": 300,
    "cpu_seconds": 300,
    "memory_mb": 2048,
    "file_size_mb": 256,
    "max_processes": 256,
}
LANGUAGES = ("python", "python3")


def _bad_input(message: str) -> TaskFailed:
    return TaskFailed(message, kind="bad_input", retryable=False)


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise _bad_input(f"limit '{name}' must be a positive number, not {value!r}")
    return float(value)


class SandboxAgent(Agent):
    description = "Runs code and pytest suites in an isolated subprocess with limits."
    blocking = True

    def run_blocking(self, ctx: TaskContext) -> Any:
        payload = ctx.payload
        if not isinstance(payload, dict):
            raise _bad_input(
                f"the sandbox needs a JSON object payload, not {type(payload).__name__}"
            )
        if ctx.type not in TASK_TYPES:
            raise _bad_input(f"the sandbox does {' and '.join(TASK_TYPES)}, not '{ctx.type}'")
        limits = self._limits(payload)
        limits["policy"] = lent_policy(ctx)
        try:
            with sandbox_failures():
                if ctx.type == RUN_CODE:
                    return self._run_code(payload, limits)
                return self._run_tests(payload, limits)
        except ValueError as exc:  # an unsafe file name or a limit the runner refuses
            raise _bad_input(str(exc)) from exc

    def _limits(self, payload: dict[str, Any]) -> dict[str, Any]:
        requested = payload.get("limits", {})
        if not isinstance(requested, dict):
            raise _bad_input("'limits' must be an object like {\"memory_mb\": 256}")
        requested = dict(requested)
        if "timeout" in payload:
            requested["timeout"] = payload["timeout"]
        unknown = sorted(set(requested) - set(DEFAULT_LIMITS))
        if unknown:
            raise _bad_input(f"unknown limits {unknown}; known: {sorted(DEFAULT_LIMITS)}")
        defaults = {**DEFAULT_LIMITS, **self.config.get("limits", {})}
        maxima = {**MAX_LIMITS, **self.config.get("max_limits", {})}
        values = {n: _number(n, requested.get(n, defaults[n])) for n in DEFAULT_LIMITS}
        if "timeout" in requested and "cpu_seconds" not in requested:
            values["cpu_seconds"] = max(values["cpu_seconds"], values["timeout"])
        clamped = {name: min(value, float(maxima[name])) for name, value in values.items()}
        limits: dict[str, Any] = {n: math.ceil(v) for n, v in clamped.items() if n != "timeout"}
        limits["timeout"] = clamped["timeout"]
        limits["network"] = self._network(payload)
        return limits

    def _network(self, payload: dict[str, Any]) -> bool:
        wanted = payload.get("network", False)
        if wanted and not self.config.get("allow_network", False):
            raise _bad_input(
                "network access is off for this agent; register it with "
                'config {"allow_network": true} to allow it'
            )
        return bool(wanted)

    def _run_code(self, payload: dict[str, Any], limits: dict[str, Any]) -> dict[str, Any]:
        code, stdin = payload.get("code"), payload.get("stdin", "")
        if not isinstance(code, str):
            raise _bad_input("run_code needs 'code': the program's source as a string")
        language = payload.get("language", "python")
        if language not in LANGUAGES:
            raise _bad_input(f"language {language!r} is not supported; use one of {LANGUAGES}")
        if not isinstance(stdin, str):
            raise _bad_input("'stdin' must be a string")
        command = [PYTHON, "main.py"]
        result = run_isolated(command, files={"main.py": code}, stdin=stdin, **limits)
        return _report(result, None)

    def _run_tests(self, payload: dict[str, Any], limits: dict[str, Any]) -> dict[str, Any]:
        args = payload.get("args", [])
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            raise _bad_input("'args' must be a list of strings (extra pytest arguments)")
        access = FileAccess.from_config(self.config)
        run = run_pytest(_project(payload, access), args=args, **limits)
        return _report(run.run, run)


def lent_policy(ctx: TaskContext) -> SandboxPolicy:
    """The sandbox policy the server lends its agents, else the default one."""
    policy = ctx.services.get("sandbox_policy")
    return policy if isinstance(policy, SandboxPolicy) else SandboxPolicy()


@contextlib.contextmanager
def sandbox_failures() -> Iterator[None]:
    """A host that cannot isolate code fails the attempt for good (``sandbox_unavailable``,
    saying what to install); a broken sandbox fails it retryably (``sandbox_error``)."""
    try:
        yield
    except SandboxUnavailableError as exc:
        raise TaskFailed(str(exc), kind="sandbox_unavailable", retryable=False) from exc
    except SandboxError as exc:
        raise TaskFailed(str(exc), kind="sandbox_error") from exc


def _project(payload: dict[str, Any], access: FileAccess = ANYWHERE) -> dict[str, str] | Path:
    files, path = payload.get("files"), payload.get("path")
    if (files is None) == (path is None):
        raise _bad_input("run_tests needs either 'files' ({name: content}) or 'path' (a directory)")
    if path is not None:
        resolved = Path(str(path)).expanduser().resolve()
        if access.refusal(resolved) == OUTSIDE_ROOTS:
            raise _bad_input(
                f"'path' {path!r} is outside the allowed roots ({access.describe_roots()})"
            )
        if any(denied.is_relative_to(resolved) for denied in access.denied):
            # the directory is copied into the sandbox, where the tests could read it
            raise _bad_input(
                f"'path' {path!r} holds the server's database, which the agents never read: "
                "give the directory of the tests"
            )
    if path is not None:
        if not isinstance(path, str) or not Path(path).is_dir():
            raise _bad_input(f"'path' must name an existing directory, not {path!r}")
        return Path(path)
    if not isinstance(files, dict) or not files:
        raise _bad_input("'files' must be a non-empty object mapping file names to contents")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
        raise _bad_input("'files' must map file names (strings) to contents (strings)")
    return files


def _report(result: RunResult, tests: TestRun | None) -> dict[str, Any]:
    return {
        "exit_code": result.exit_code,
        "signal": result.signal,
        "timed_out": result.timed_out,
        "killed_reason": result.killed_reason,
        "stdout": result.stdout,
        "stderr": result.stderr,
        "truncated": result.truncated,
        "duration": result.duration,
        "cpu_time": result.cpu_time,
        "tests": None if tests is None else tests.counts(),
        "isolation": result.isolation,
    }
