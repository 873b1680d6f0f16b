"""The checks that compare a value with what the bank expects: exact, contains, regex,
numeric and json_schema."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from imperium.services.custody.graders.checks import (
    ContainsCheck,
    ExactCheck,
    JsonSchemaCheck,
    NumericCheck,
    RegexCheck,
)
from imperium.services.custody.graders.outcome import Outcome, unevaluated
from imperium.services.custody.graders.paths import PathError, resolve
from imperium.services.custody.graders.schema import validation_errors
from imperium.services.custody.graders.show import show
from imperium.services.custody.graders.values import (
    as_number,
    as_text,
    equal,
    matches,
    type_name,
)

DEFAULT_ABS_TOL = 1e-9
SCHEMA_ERRORS_SHOWN = 5


def exact(check: ExactCheck, value: Any) -> Outcome:
    if equal(value, check.expected, not check.case_sensitive):
        return Outcome(True, value)
    return Outcome(False, value, f"expected {show(check.expected)}, got {show(value)}")


def contains(check: ContainsCheck, value: Any) -> Outcome:
    expected, fold = check.expected, not check.case_sensitive
    if isinstance(value, list | tuple):
        if any(matches(element, expected, fold) for element in value):
            return Outcome(True, value)
        return Outcome(False, value, f"{show(expected)} is not among {len(value)} values")
    if isinstance(value, str):
        return _contains_text(value, expected, fold)
    if isinstance(value, Mapping):
        if isinstance(expected, str) and expected in value:
            return Outcome(True, value)
        return Outcome(False, value, f"the object has no key {show(expected)}")
    return unevaluated(value, f"cannot look inside {type_name(value)}")


def _contains_text(value: str, expected: Any, fold: bool) -> Outcome:
    if not isinstance(expected, str):
        return unevaluated(value, f"cannot look for {show(expected)} in a string")
    haystack, needle = (value.casefold(), expected.casefold()) if fold else (value, expected)
    if needle in haystack:
        return Outcome(True, value)
    return Outcome(False, value, f"{show(expected)} is not in the text")


def regex(check: RegexCheck, value: Any) -> Outcome:
    pattern = check.compiled()
    texts = list(value) if isinstance(value, list | tuple) else [value]
    strings = [text for text in map(as_text, texts) if text is not None]
    if not strings:
        return unevaluated(value, f"expected text, got {type_name(value)}")
    if any(pattern.search(s) for s in strings):
        return Outcome(True, value)
    return Outcome(False, value, f"/{check.pattern}/ does not match {show(value)}")


def numeric(check: NumericCheck, value: Any) -> Outcome:
    number = as_number(value)
    if number is None:
        return unevaluated(value, f"expected a number, got {show(value)}")
    problems = []
    if check.expected is not None:
        expected = float(check.expected)
        allowed = _allowed_error(check, expected)
        if not abs(number - expected) <= allowed:
            problems.append(f"{number:g} is not {expected:g} (± {allowed:g})")
    if check.min is not None and not number >= check.min:
        problems.append(f"{number:g} is below the minimum {check.min:g}")
    if check.max is not None and not number <= check.max:
        problems.append(f"{number:g} is above the maximum {check.max:g}")
    return Outcome(not problems, value, "; ".join(problems) or None)


def _allowed_error(check: NumericCheck, expected: float) -> float:
    """``abs_tol`` (DEFAULT_ABS_TOL when neither tolerance is given) or ``rel_tol`` of
    ``expected``, whichever allows more."""
    default_abs = DEFAULT_ABS_TOL if check.rel_tol is None else 0.0
    abs_tol = default_abs if check.abs_tol is None else check.abs_tol
    rel_tol = 0.0 if check.rel_tol is None else check.rel_tol
    return max(float(abs_tol), float(rel_tol) * abs(expected))


def json_schema(check: JsonSchemaCheck, value: Any) -> Outcome:
    errors = validation_errors(check.json_schema, value)
    if errors:
        listed = "; ".join(errors[:SCHEMA_ERRORS_SHOWN])
        extra = len(errors) - SCHEMA_ERRORS_SHOWN
        more = f" (and {extra} more)" if extra > 0 else ""
        return Outcome(False, value, f"not valid against the schema: {listed}{more}")
    problems = []
    for path, expected in check.fields.items():
        try:
            found = resolve(value, path)
        except PathError as exc:
            problems.append(str(exc))
            continue
        if not equal(found, expected, True):
            problems.append(f"{path}: expected {show(expected)}, got {show(found)}")
    return Outcome(not problems, value, "; ".join(problems) or None)
