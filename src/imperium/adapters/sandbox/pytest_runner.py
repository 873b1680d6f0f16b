"""Test suites in the sandbox: :func:`run_pytest` and its JUnit XML report read back as
a :class:`TestRun`."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ElementTree
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

from imperium.adapters.sandbox.errors import SandboxUnavailableError
from imperium.adapters.sandbox.plan import PYTHON
from imperium.adapters.sandbox.runner import RunResult, run_isolated
from imperium.extras import is_installed, missing_message

MAX_FAILURES = 100  # failed tests listed in a TestRun


@dataclass(frozen=True, slots=True)
class FailedTest:
    name: str
    kind: str  # "failed" | "error"
    message: str


@dataclass(frozen=True, slots=True)
class TestRun:
    """A pytest run: counts from its JUnit XML report, None when there is no report."""

    __test__: ClassVar[bool] = False  # not a test class, whatever pytest thinks of the name

    run: RunResult
    passed: int | None
    failed: int | None
    errors: int | None
    skipped: int | None
    total: int | None
    failures: tuple[FailedTest, ...]
    reason: str | None  # why the counts are missing or pytest did not finish normally

    def counts(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "failed": self.failed,
            "errors": self.errors,
            "skipped": self.skipped,
            "total": self.total,
            "failures": [asdict(f) for f in self.failures],
            "reason": self.reason,
        }


_PYTEST_EXITS = {
    2: "pytest was interrupted (errors during collection, e.g. a module that does not import)",
    3: "pytest hit an internal error",
    4: "pytest was called wrongly (usage error)",
    5: "pytest collected no tests",
}
_REPORT = ".report.xml"


def run_pytest(
    project: Mapping[str, str] | Path, *, args: Sequence[str] = (), **limits: Any
) -> TestRun:
    """Run pytest on ``project`` (files by name, or a directory to copy) in the sandbox.

    ``limits`` are :func:`run_isolated`'s keyword arguments. Note that the code under test
    runs inside pytest's process, so hostile code could forge the report it writes.

    SandboxUnavailableError when pytest is not installed here (the sandbox runs this
    interpreter's pytest): it comes with the ``sandbox`` extra."""
    if not is_installed("pytest"):
        message = missing_message(("pytest",), "running test suites in the Sandbox")
        raise SandboxUnavailableError(f"{message} (for {sys.executable})")
    command = [PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    command += ["--junitxml", _REPORT, *args]
    if isinstance(project, Path):
        result = run_isolated(command, copy_from=project, collect=[_REPORT], **limits)
    else:
        result = run_isolated(command, files=dict(project), collect=[_REPORT], **limits)
    return _test_run(result, result.collected.get(_REPORT))


def _test_run(result: RunResult, report: str | None) -> TestRun:
    reason = _pytest_reason(result)
    if report is None:
        return TestRun(result, None, None, None, None, None, (), reason or "pytest wrote no report")
    try:
        cases = ElementTree.fromstring(report).iter("testcase")
        tally, failures = _tally(cases)
    except ElementTree.ParseError as exc:
        return TestRun(result, None, None, None, None, None, (), f"unreadable report: {exc}")
    total = sum(tally.values())
    return TestRun(
        result,
        tally["passed"],
        tally["failed"],
        tally["errors"],
        tally["skipped"],
        total,
        tuple(failures),
        reason,
    )


def _pytest_reason(result: RunResult) -> str | None:
    if result.timed_out:
        return f"pytest timed out after {result.isolation['timeout_seconds']} s"
    if result.signal is not None:
        return f"pytest was killed by {result.signal}" + (
            f" ({result.killed_reason} limit)" if result.killed_reason else ""
        )
    if result.exit_code in (0, 1):
        return None
    return _PYTEST_EXITS.get(result.exit_code or 0, f"pytest exited with {result.exit_code}")


def _tally(cases: Any) -> tuple[dict[str, int], list[FailedTest]]:
    tally = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0}
    failures: list[FailedTest] = []
    for case in cases:
        failure, error = case.find("failure"), case.find("error")
        problem = failure if failure is not None else error
        if problem is not None:
            kind = "failed" if failure is not None else "error"
            tally["failed" if kind == "failed" else "errors"] += 1
            if len(failures) < MAX_FAILURES:
                failures.append(FailedTest(_case_name(case), kind, _message(problem)))
        elif case.find("skipped") is not None:
            tally["skipped"] += 1
        else:
            tally["passed"] += 1
    return tally, failures


def _case_name(case: ElementTree.Element) -> str:
    classname, name = case.get("classname", ""), case.get("name", "?")
    return f"{classname}::{name}" if classname else name


def _message(problem: ElementTree.Element) -> str:
    """The first line of the message; for a collection error, the error line of the text."""
    message = (problem.get("message") or "").strip().split("\n", 1)[0]
    error_lines = [ln[1:].strip() for ln in (problem.text or "").splitlines() if ln[:1] == "E"]
    if error_lines and (not message or message == "collection failure"):
        message = f"{message}: {error_lines[-1]}" if message else error_lines[-1]
    return message[:500]
