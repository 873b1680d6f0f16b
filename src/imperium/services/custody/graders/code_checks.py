"""The checks that run code in the Sandbox: ``unit_tests`` (the answer's code against the
bank's tests) and ``catches_bug`` (the answer's tests against a correct and buggy code).

The runner is the caller's (services do not import adapters); the Sandbox's
``run_pytest`` fits, best with ``env={"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}`` (the bank's
tests need no plugin, and loading none halves each run) and a ``timeout``. The answer's
code runs inside pytest's process, so hostile code could forge the report pytest writes:
the Sandbox bounds what it can do, not what it claims.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from imperium.services.custody.graders.answers import code_of
from imperium.services.custody.graders.checks import CatchesBugCheck, UnitTestsCheck
from imperium.services.custody.graders.outcome import Outcome, unevaluated
from imperium.services.custody.graders.show import cut
from imperium.services.custody.graders.values import type_name

SOLUTION_FILE = "solution.py"
TESTS_FILE = "test_solution.py"
NO_SANDBOX = "the Sandbox is not available: no test runner to run them"
FAILURES_SHOWN = 5


class TestRunLike(Protocol):
    """What a test runner returns (``imperium.adapters.sandbox.TestRun`` is one): counts
    from the run's report, None when there is none, and why."""

    @property
    def passed(self) -> int | None: ...

    @property
    def failed(self) -> int | None: ...

    @property
    def errors(self) -> int | None: ...

    @property
    def total(self) -> int | None: ...

    @property
    def reason(self) -> str | None: ...

    @property
    def failures(self) -> Sequence[Any]: ...


RunTests = Callable[[dict[str, str]], TestRunLike]
"""Runs pytest over ``{file name: content}`` in the Sandbox."""


def unit_tests(check: UnitTestsCheck, value: Any, run_tests: RunTests | None) -> Outcome:
    code = code_of(value)
    if code is None:
        return unevaluated(value, f"expected Python source, got {type_name(value)}")
    if run_tests is None:
        return Outcome(False, code, NO_SANDBOX)
    run, failure = _run(run_tests, {SOLUTION_FILE: code, TESTS_FILE: check.tests})
    if run is None:
        return Outcome(False, code, failure)
    total, passed = run.total or 0, run.passed or 0
    if total <= 0:
        return Outcome(False, code, f"no test ran: {run.reason or 'empty report'}", score=0.0)
    detail = None if passed == total else _describe(run)
    return Outcome(passed == total, code, detail, score=passed / total)


def catches_bug(check: CatchesBugCheck, value: Any, run_tests: RunTests | None) -> Outcome:
    tests = code_of(value)
    if tests is None:
        return unevaluated(value, f"expected pytest source, got {type_name(value)}")
    if run_tests is None:
        return Outcome(False, tests, NO_SANDBOX)
    versions = [("correct", check.correct)] + [
        (f"buggy #{n}", source) for n, source in enumerate(check.buggy, 1)
    ]
    problems = []
    for label, source in versions:
        problem = _verdict(run_tests, label, source, tests)
        if problem is not None:
            problems.append(problem)
    return Outcome(not problems, tests, "; ".join(problems) or None)


def _verdict(run_tests: RunTests, label: str, source: str, tests: str) -> str | None:
    """What is wrong with the tests run against one implementation; None when nothing."""
    run, failure = _run(run_tests, {SOLUTION_FILE: source, TESTS_FILE: tests})
    if run is None:
        return f"{label}: {failure}"
    total, passed = run.total or 0, run.passed or 0
    bad = (run.failed or 0) + (run.errors or 0)
    if label == "correct" and (total <= 0 or passed <= 0 or bad > 0):
        return f"the tests must pass on the correct implementation: {_describe(run)}"
    if label != "correct" and (total <= 0 or bad == 0):
        return f"the tests do not catch the bug ({label}): {_describe(run)}"
    return None


def _run(run_tests: RunTests, files: dict[str, str]) -> tuple[TestRunLike | None, str]:
    try:
        return run_tests(files), ""
    except Exception as exc:  # the sandbox broke: not the agent's answer, but no grade
        return None, f"the Sandbox failed to run the tests: {type(exc).__name__}: {exc}"


def _describe(run: TestRunLike) -> str:
    counts = (
        f"{run.passed} passed, {run.failed} failed, {run.errors} errors of {run.total}"
        if run.total is not None
        else "no report"
    )
    failures = [_failure(f) for f in list(run.failures)[:FAILURES_SHOWN]]
    reason = f" ({run.reason})" if run.reason else ""
    return counts + reason + (f"; {'; '.join(failures)}" if failures else "")


def _failure(failure: Any) -> str:
    if isinstance(failure, Mapping):
        name, message = failure.get("name"), failure.get("message")
    else:
        name, message = getattr(failure, "name", None), getattr(failure, "message", None)
    return f"{name}: {cut(str(message), 200)}"
