"""Grading a result: every check of an item, each entry saying what was expected, what
was found and why it failed; the score is their mean, passed when it reaches the item's
threshold."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from imperium.domain.custody import Difficulty
from imperium.services.custody.graders.answers import (
    ANSWER,
    UnusableAnswerError,
    normalise_answer,
)
from imperium.services.custody.graders.checks import (
    CatchesBugCheck,
    Check,
    JsonSchemaCheck,
    NotCheck,
    NumericCheck,
    RegexCheck,
    UnitTestsCheck,
)
from imperium.services.custody.graders.code_checks import RunTests
from imperium.services.custody.graders.evaluate import run_check
from imperium.services.custody.graders.outcome import Outcome, unevaluated
from imperium.services.custody.graders.show import cut, preview

DEFAULT_THRESHOLDS: dict[Difficulty, float] = {
    Difficulty.BASIC: 0.6,
    Difficulty.INTERMEDIATE: 0.7,
    Difficulty.ADVANCED: 0.75,
    Difficulty.EXPERT: 0.8,
    Difficulty.MASTER: 0.9,
    Difficulty.LEGENDARY: 1.0,
}
"""The share of an item's checks to pass, per tier, when the item gives no threshold."""


class GradableItem(Protocol):
    """What grading needs of a bank item (``bank.Item`` is one)."""

    @property
    def task_type(self) -> str: ...

    @property
    def payload(self) -> Mapping[str, Any]: ...

    @property
    def checks(self) -> Sequence[Check]: ...

    @property
    def threshold(self) -> float: ...


@dataclass(frozen=True, slots=True)
class Grade:
    """A graded result: ``score`` in [0, 1], ``passed`` when it reaches ``threshold``, and
    one entry per check (``kind``, ``path``, ``expected``, ``actual``, ``ok``, ``score``,
    ``detail``)."""

    score: float
    passed: bool
    threshold: float
    checks: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """What ``custody_results.grader_output`` stores."""
        return {
            "score": self.score,
            "passed": self.passed,
            "threshold": self.threshold,
            "checks": [dict(c) for c in self.checks],
        }


def grade(item: GradableItem, result: Any, *, run_tests: RunTests | None = None) -> Grade:
    """Grade ``result`` (what the agent returned for ``item``'s task) against the item."""
    subject, problem = result, None
    if item.task_type == ANSWER:
        try:
            subject = normalise_answer(result, str(item.payload.get("format", "text")))
        except UnusableAnswerError as exc:
            problem = str(exc)
    entries = []
    for check in item.checks:
        if problem is not None:
            outcome = unevaluated(preview(result), problem)
        else:
            outcome = run_check(check, subject, run_tests)
        entries.append(_entry(check, outcome))
    score = sum(e["score"] for e in entries) / len(entries) if entries else 0.0
    score = round(min(1.0, max(0.0, score)), 6)
    return Grade(score, score >= item.threshold - 1e-9, item.threshold, entries)


def _entry(check: Check, outcome: Outcome) -> dict[str, Any]:
    return {
        "kind": check.kind,
        "path": _path_of(check),
        "expected": _expected(check),
        "actual": preview(outcome.actual),
        "ok": outcome.ok,
        "score": round(outcome.points, 6),
        "detail": cut(outcome.detail) if outcome.detail else None,
    }


def _path_of(check: Check) -> str:
    """The check's path; a ``not`` without one shows the path of the check it wraps."""
    if isinstance(check, NotCheck) and not check.path_given:
        return _path_of(check.check)
    return check.path


def _expected(check: Check) -> Any:
    """What the check wants, for people reading the grade."""
    match check:
        case RegexCheck():
            return f"/{check.pattern}/{check.flags}"
        case NumericCheck():
            return check.given()
        case JsonSchemaCheck():
            fields = f", with {preview(check.fields)}" if check.fields else ""
            return "valid against the schema" + fields
        case UnitTestsCheck():
            return "every test in test_solution.py passes"
        case CatchesBugCheck():
            return "the tests pass on the correct implementation and fail on the buggy one(s)"
        case NotCheck():
            return {"not": {"kind": check.check.kind, "expected": _expected(check.check)}}
        case _:
            return preview(check.expected)
