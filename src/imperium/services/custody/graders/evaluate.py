"""Running one check over what the agent returned: select the value by the check's path,
then judge it by the check's kind. A missing path, a value of the wrong type or a grader
that breaks make a failed check, never an exception."""

from __future__ import annotations

from typing import Any, assert_never

from imperium.services.custody.graders import code_checks, value_checks
from imperium.services.custody.graders.checks import (
    CatchesBugCheck,
    Check,
    ContainsCheck,
    ExactCheck,
    JsonSchemaCheck,
    NotCheck,
    NumericCheck,
    RegexCheck,
    UnitTestsCheck,
)
from imperium.services.custody.graders.code_checks import RunTests
from imperium.services.custody.graders.outcome import Outcome, unevaluated
from imperium.services.custody.graders.paths import PathError, resolve


def run_check(check: Check, subject: Any, run_tests: RunTests | None) -> Outcome:
    """``check``'s verdict on ``subject`` (the whole result, or the normalised answer)."""
    try:
        value = resolve(subject, check.path)
    except PathError as exc:
        return unevaluated(None, str(exc))
    try:
        return _judge(check, value, subject, run_tests)
    except Exception as exc:  # a grader bug or a hostile value: a failed check, not a crash
        return unevaluated(value, f"cannot grade: {type(exc).__name__}: {exc}")


def _judge(check: Check, value: Any, subject: Any, run_tests: RunTests | None) -> Outcome:
    match check:
        case NotCheck():
            return _negate(run_check(check.check, subject, run_tests))
        case ExactCheck():
            return value_checks.exact(check, value)
        case ContainsCheck():
            return value_checks.contains(check, value)
        case RegexCheck():
            return value_checks.regex(check, value)
        case NumericCheck():
            return value_checks.numeric(check, value)
        case JsonSchemaCheck():
            return value_checks.json_schema(check, value)
        case UnitTestsCheck():
            return code_checks.unit_tests(check, value, run_tests)
        case CatchesBugCheck():
            return code_checks.catches_bug(check, value, run_tests)
        case _:
            assert_never(check)


def _negate(inner: Outcome) -> Outcome:
    """A ``not`` passes when its check fails; a check that could not be evaluated (a
    missing path, a wrong type) is no failure, so an empty result never passes."""
    if not inner.evaluated:
        return unevaluated(inner.actual, f"cannot evaluate: {inner.detail}")
    detail = None if not inner.ok else "the wrapped check passed; it must fail"
    return Outcome(not inner.ok, inner.actual, detail)
