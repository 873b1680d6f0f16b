"""Grading a custody test: every check of an item run over the agent's result.

``grade(item, result, run_tests=...)`` returns a :class:`Grade`: the mean of the checks'
scores (each 0 or 1, except ``unit_tests``: passed / total), ``passed`` when that reaches
the item's threshold, and one entry per check saying what was expected, what was found and
why it failed. Graders never trust the agent: a missing field, an answer of the wrong type,
invalid JSON or code that does not import make a failed check with a clear ``detail``,
never an exception.

**Answer items** (``task_type == "answer"``): the result is the agent's answer, normalised
first by the question's ``format`` — ``{"answer": x}`` is unwrapped (except for ``json``);
``text``: a string (a number is turned into one); ``number``: a number, or a string that
is one number (``"429"``, ``"about 4.71"``); ``json``: a JSON value or a string holding one
(a Markdown code fence around it is dropped); ``python``: source code as a string or
``{"code": "..."}`` (a Markdown code fence is dropped). Checks then look at that answer.
**Agent-task items**: checks look at the result as the agent returned it.

Paths select what a check looks at: ``$`` (the whole result), dotted keys with ``[n]``
(an index; negative counts from the end), ``[*]`` (every element: the path then collects a
list, skipping elements that lack the rest of the path) and ``[key=value]`` (the first
element whose ``key`` reads ``value``), e.g. ``findings[*].rule``, ``tests.passed``,
``items[name=checkout].baseline.ratio``.

Check kinds (``path`` defaults to ``$``):

- ``exact``: ``expected`` equals the value (strings compared stripped and casefolded unless
  ``"case_sensitive": true``; recursively inside lists and objects; ``true`` is not ``1``);
- ``contains``: ``expected`` is an element of a list (an object ``expected`` matches an
  element holding at least its fields, so ``{"rule": "B602", "line": 7}`` needs both on
  one finding), a substring of a string (casefolded), or a key of an object;
- ``regex``: ``pattern`` found by ``re.search`` in the string (any element of a list),
  ``flags`` from ``"ims"``;
- ``numeric``: the number equals ``expected`` within ``abs_tol`` or ``rel_tol`` (default
  1e-9 absolute), and/or lies within ``min`` .. ``max`` (inclusive);
- ``json_schema``: the value is valid against ``schema`` (JSON Schema Draft 2020-12), and
  each path of the optional ``fields`` object holds its value (as ``exact``);
- ``unit_tests``: the answer's code is ``solution.py``, ``tests`` (pytest source importing
  from ``solution``) is ``test_solution.py``, run by ``run_tests`` (the Sandbox); the score
  is passed / total; without a runner the check fails saying so;
- ``catches_bug``: the answer is pytest source testing ``solution``; run against
  ``correct`` it must pass (at least one test, none failing), run against ``buggy`` (one
  implementation or a list of them) it must fail on each;
- ``not``: ``check`` (another check) must fail; a check that could not be evaluated
  (missing path, wrong type) does not count as failing, so an empty result never passes.

The runner is the caller's (services do not import adapters); the Sandbox's
``run_pytest`` fits, best with ``env={"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}`` (the bank's
tests need no plugin, and loading none halves each run) and a ``timeout``. The answer's
code runs inside pytest's process, so hostile code could forge the report pytest writes:
the Sandbox bounds what it can do, not what it claims.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from typing import Any, Protocol

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from imperium.domain.custody import Difficulty

ANSWER = "answer"
FORMATS = ("text", "number", "json", "python")
KINDS = (
    "exact",
    "contains",
    "regex",
    "numeric",
    "json_schema",
    "unit_tests",
    "catches_bug",
    "not",
)
DEFAULT_THRESHOLDS: dict[Difficulty, float] = {
    Difficulty.BASIC: 0.6,
    Difficulty.INTERMEDIATE: 0.7,
    Difficulty.ADVANCED: 0.75,
    Difficulty.EXPERT: 0.8,
    Difficulty.MASTER: 0.9,
    Difficulty.LEGENDARY: 1.0,
}
SOLUTION_FILE = "solution.py"
TESTS_FILE = "test_solution.py"
PREVIEW_CHARS = 500
DETAIL_CHARS = 2000
DEFAULT_ABS_TOL = 1e-9
REGEX_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL}

_COMMON_KEYS = frozenset({"kind", "path", "note"})
_KIND_KEYS: dict[str, tuple[frozenset[str], frozenset[str]]] = {  # (required, optional)
    "exact": (frozenset({"expected"}), frozenset({"case_sensitive"})),
    "contains": (frozenset({"expected"}), frozenset({"case_sensitive"})),
    "regex": (frozenset({"pattern"}), frozenset({"flags"})),
    "numeric": (frozenset(), frozenset({"expected", "abs_tol", "rel_tol", "min", "max"})),
    "json_schema": (frozenset({"schema"}), frozenset({"fields"})),
    "unit_tests": (frozenset({"tests"}), frozenset()),
    "catches_bug": (frozenset({"buggy", "correct"}), frozenset()),
    "not": (frozenset({"check"}), frozenset()),
}


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


class GradableItem(Protocol):
    """What grading needs of a bank item (``bank.Item`` is one)."""

    @property
    def task_type(self) -> str: ...

    @property
    def payload(self) -> Mapping[str, Any]: ...

    @property
    def checks(self) -> Sequence[Mapping[str, Any]]: ...

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


# -- paths -----------------------------------------------------------------------------


class PathError(LookupError):
    """A path that does not exist in the value (or is not a path at all)."""


@dataclass(frozen=True, slots=True)
class _Step:
    kind: str  # "key", "index", "all", "match"
    key: str = ""
    index: int = 0
    value: str = ""

    def __str__(self) -> str:
        if self.kind == "key":
            return f".{self.key}"
        if self.kind == "index":
            return f"[{self.index}]"
        if self.kind == "all":
            return "[*]"
        return f"[{self.key}={self.value}]"


_STEP = re.compile(
    r"(?P<dot>\.)?(?P<key>[A-Za-z_][\w-]*)"
    r"|\[(?:(?P<all>\*)|(?P<index>-?\d+)|(?P<mkey>[A-Za-z_][\w-]*)=(?P<mvalue>[^\]]*))\]"
)


def parse_path(path: str) -> tuple[_Step, ...]:
    """The steps of ``path``; PathError when it is not one."""
    if not isinstance(path, str):
        raise PathError(f"a path must be a string, not {type(path).__name__}")
    text = path.strip()
    if text == "$":
        return ()
    text = text[1:] if text.startswith("$") else text
    if text.startswith("."):
        text = text[1:]
    if not text:
        raise PathError(f"empty path {path!r}")
    steps: list[_Step] = []
    position = 0
    while position < len(text):
        match = _STEP.match(text, position)
        dotted = match is not None and match["dot"] is not None
        if match is None or (dotted and not steps) or (match["key"] and steps and not dotted):
            raise PathError(f"bad path {path!r} at {text[position:]!r}")
        if match["key"]:
            steps.append(_Step("key", key=match["key"]))
        elif match["all"]:
            steps.append(_Step("all"))
        elif match["index"] is not None:
            steps.append(_Step("index", index=int(match["index"])))
        else:
            steps.append(_Step("match", key=match["mkey"], value=match["mvalue"]))
        position = match.end()
    return tuple(steps)


def resolve(value: Any, path: str) -> Any:
    """What ``path`` selects in ``value`` (a list when it holds ``[*]``); PathError when
    it selects nothing."""
    current: list[Any] = [value]
    many = False
    where = "$"
    for step in parse_path(path):
        found: list[Any] = []
        for item in current:
            try:
                found.extend(_step(item, step))
            except PathError as exc:
                if not many:
                    raise PathError(f"path {path!r}: at {where}, {exc}") from None
        current, many = found, many or step.kind == "all"
        where += str(step)
    return current if many else current[0]


def _step(value: Any, step: _Step) -> list[Any]:
    if step.kind == "key":
        if not isinstance(value, Mapping):
            raise PathError(f"no key {step.key!r}: the value is {_type(value)}, not an object")
        if step.key not in value:
            raise PathError(f"no key {step.key!r} (keys: {_keys(value)})")
        return [value[step.key]]
    if not isinstance(value, list | tuple):
        raise PathError(f"{step} needs a list, the value is {_type(value)}")
    if step.kind == "all":
        return list(value)
    if step.kind == "index":
        if not -len(value) <= step.index < len(value):
            raise PathError(f"no index {step.index} in a list of {len(value)}")
        return [value[step.index]]
    for element in value:
        if isinstance(element, Mapping) and _text(element.get(step.key)) == step.value:
            return [element]
    raise PathError(f"no element with {step.key} = {step.value!r} among {len(value)}")


def _keys(value: Mapping[Any, Any]) -> str:
    keys = sorted(map(str, value))
    return ", ".join(keys[:12]) + (", ..." if len(keys) > 12 else "") if keys else "none"


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _type(value: Any) -> str:
    names = {
        type(None): "null",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "a list",
        tuple: "a list",
        dict: "an object",
    }
    return names.get(type(value), "an object" if isinstance(value, Mapping) else "a value")


# -- validating checks (the bank calls this) --------------------------------------------


def validate_check(check: Any, *, where: str = "check") -> None:
    """ValueError saying what is wrong with ``check``, if anything."""
    if not isinstance(check, Mapping):
        raise ValueError(f"{where} must be an object, not {_type(check)}")
    kind = check.get("kind")
    if kind not in _KIND_KEYS:
        raise ValueError(f"{where}: unknown kind {kind!r}; known: {', '.join(KINDS)}")
    required, optional = _KIND_KEYS[kind]
    missing = sorted(required - set(check))
    if missing:
        raise ValueError(f"{where} ({kind}) lacks {', '.join(missing)}")
    unknown = sorted(set(check) - required - optional - _COMMON_KEYS)
    if unknown:
        raise ValueError(f"{where} ({kind}) has unknown keys {unknown}")
    if "path" in check:
        try:
            parse_path(check["path"])
        except PathError as exc:
            raise ValueError(f"{where}: {exc}") from None
    _validate_kind(kind, check, where)


def _validate_kind(kind: str, check: Mapping[str, Any], where: str) -> None:
    if kind == "regex":
        _validate_regex(check, where)
    elif kind == "numeric":
        _validate_numeric(check, where)
    elif kind == "json_schema":
        try:
            Draft202012Validator.check_schema(check["schema"])
        except SchemaError as exc:
            raise ValueError(f"{where}: invalid JSON schema: {exc.message}") from None
        fields = check.get("fields", {})
        if not isinstance(fields, Mapping):
            raise ValueError(f"{where}: fields must be an object of path: value")
        for path in fields:
            try:
                parse_path(path)
            except PathError as exc:
                raise ValueError(f"{where}: fields: {exc}") from None
    elif kind == "unit_tests":
        tests = check["tests"]
        if not isinstance(tests, str) or "def test" not in tests:
            raise ValueError(f"{where}: tests must be pytest source with test functions")
    elif kind == "catches_bug":
        buggy = check["buggy"]
        versions = [buggy] if isinstance(buggy, str) else buggy
        sources = [check["correct"], *versions] if isinstance(versions, list) else []
        if not versions or not all(isinstance(s, str) and s.strip() for s in sources):
            raise ValueError(f"{where}: buggy (one or a list) and correct must be Python source")
    elif kind == "not":
        inner = check["check"]
        if isinstance(inner, Mapping) and inner.get("kind") in ("unit_tests", "catches_bug"):
            raise ValueError(f"{where}: 'not' cannot wrap a {inner['kind']} check")
        validate_check(inner, where=f"{where} (inside not)")
    for key in ("case_sensitive",):
        if key in check and not isinstance(check[key], bool):
            raise ValueError(f"{where}: {key} must be true or false")


def _validate_regex(check: Mapping[str, Any], where: str) -> None:
    pattern, flags = check["pattern"], check.get("flags", "")
    if not isinstance(flags, str) or set(flags) - set(REGEX_FLAGS):
        raise ValueError(f"{where}: flags must be a string of {''.join(REGEX_FLAGS)}")
    if not isinstance(pattern, str):
        raise ValueError(f"{where}: pattern must be a string")
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"{where}: the pattern does not compile: {exc}") from None


def _validate_numeric(check: Mapping[str, Any], where: str) -> None:
    for key in ("expected", "abs_tol", "rel_tol", "min", "max"):
        if key in check and not _is_number(check[key]):
            raise ValueError(f"{where}: {key} must be a finite number")
    if "expected" not in check and "min" not in check and "max" not in check:
        raise ValueError(f"{where}: numeric needs expected, min or max")
    for key in ("abs_tol", "rel_tol"):
        if check.get(key, 0) < 0:
            raise ValueError(f"{where}: {key} must not be negative")
    if "min" in check and "max" in check and check["min"] > check["max"]:
        raise ValueError(f"{where}: min is above max")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


# -- grading -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Outcome:
    ok: bool
    actual: Any = None
    detail: str | None = None
    _: KW_ONLY
    score: float | None = None  # None: 1.0 when ok, else 0.0
    evaluated: bool = True  # False: the value was missing or of the wrong type

    @property
    def points(self) -> float:
        if self.score is not None:
            return self.score
        return 1.0 if self.ok else 0.0


class _UnusableAnswerError(Exception):
    """The answer cannot be graded at all (wrong type, invalid JSON): every check fails."""


def grade(item: GradableItem, result: Any, *, run_tests: RunTests | None = None) -> Grade:
    """Grade ``result`` (what the agent returned for ``item``'s task) against the item."""
    subject, problem = result, None
    if item.task_type == ANSWER:
        try:
            subject = normalise_answer(result, str(item.payload.get("format", "text")))
        except _UnusableAnswerError as exc:
            problem = str(exc)
    entries = []
    for check in item.checks:
        if problem is not None:
            outcome = _Outcome(False, _preview(result), problem, evaluated=False)
        else:
            outcome = _run_check(check, subject, run_tests)
        entries.append(_entry(check, outcome))
    score = sum(e["score"] for e in entries) / len(entries) if entries else 0.0
    score = round(min(1.0, max(0.0, score)), 6)
    return Grade(score, score >= item.threshold - 1e-9, item.threshold, entries)


def _entry(check: Mapping[str, Any], outcome: _Outcome) -> dict[str, Any]:
    return {
        "kind": check.get("kind"),
        "path": _path_of(check),
        "expected": _expected(check),
        "actual": _preview(outcome.actual),
        "ok": outcome.ok,
        "score": round(outcome.points, 6),
        "detail": _cut(outcome.detail) if outcome.detail else None,
    }


def _path_of(check: Mapping[str, Any]) -> str:
    inner = check.get("check")
    if "path" not in check and check.get("kind") == "not" and isinstance(inner, Mapping):
        return _path_of(inner)
    return str(check.get("path", "$"))


def _expected(check: Mapping[str, Any]) -> Any:
    kind = check.get("kind")
    if kind in ("exact", "contains"):
        return _preview(check.get("expected"))
    if kind == "regex":
        return f"/{check.get('pattern')}/{check.get('flags', '')}"
    if kind == "numeric":
        return {k: check[k] for k in ("expected", "abs_tol", "rel_tol", "min", "max") if k in check}
    if kind == "json_schema":
        fields = check.get("fields")
        return "valid against the schema" + (f", with {_preview(fields)}" if fields else "")
    if kind == "unit_tests":
        return "every test in test_solution.py passes"
    if kind == "catches_bug":
        return "the tests pass on the correct implementation and fail on the buggy one(s)"
    inner = check.get("check", {})
    return {"not": {"kind": inner.get("kind"), "expected": _expected(inner)}}


def _run_check(check: Mapping[str, Any], subject: Any, run_tests: RunTests | None) -> _Outcome:
    kind = check.get("kind")
    try:
        value = resolve(subject, str(check.get("path", "$")))
    except PathError as exc:
        return _Outcome(False, None, str(exc), evaluated=False)
    try:
        if kind == "not":
            inner = _run_check(check["check"], subject, run_tests)
            if not inner.evaluated:
                return _Outcome(
                    False, inner.actual, f"cannot evaluate: {inner.detail}", evaluated=False
                )
            detail = None if not inner.ok else "the wrapped check passed; it must fail"
            return _Outcome(not inner.ok, inner.actual, detail)
        return _CHECKERS[str(kind)](check, value, run_tests)
    except Exception as exc:  # a grader bug or a hostile value: a failed check, not a crash
        return _Outcome(False, value, f"cannot grade: {type(exc).__name__}: {exc}", evaluated=False)


def _exact(check: Mapping[str, Any], value: Any, _: RunTests | None) -> _Outcome:
    fold = not check.get("case_sensitive", False)
    if _equal(value, check["expected"], fold):
        return _Outcome(True, value)
    return _Outcome(False, value, f"expected {_show(check['expected'])}, got {_show(value)}")


def _contains(check: Mapping[str, Any], value: Any, _: RunTests | None) -> _Outcome:
    expected, fold = check["expected"], not check.get("case_sensitive", False)
    if isinstance(value, list | tuple):
        if any(_matches(element, expected, fold) for element in value):
            return _Outcome(True, value)
        return _Outcome(False, value, f"{_show(expected)} is not among {len(value)} values")
    if isinstance(value, str):
        if not isinstance(expected, str):
            return _Outcome(
                False, value, f"cannot look for {_show(expected)} in a string", evaluated=False
            )
        haystack, needle = (value.casefold(), expected.casefold()) if fold else (value, expected)
        if needle in haystack:
            return _Outcome(True, value)
        return _Outcome(False, value, f"{_show(expected)} is not in the text")
    if isinstance(value, Mapping):
        if isinstance(expected, str) and expected in value:
            return _Outcome(True, value)
        return _Outcome(False, value, f"the object has no key {_show(expected)}")
    return _Outcome(False, value, f"cannot look inside {_type(value)}", evaluated=False)


def _regex(check: Mapping[str, Any], value: Any, _: RunTests | None) -> _Outcome:
    flags = 0
    for letter in check.get("flags", ""):
        flags |= REGEX_FLAGS[letter]
    pattern = re.compile(check["pattern"], flags)
    texts = list(value) if isinstance(value, list | tuple) else [value]
    strings = [_text(t) for t in texts if _text(t) is not None]
    if not strings:
        return _Outcome(False, value, f"expected text, got {_type(value)}", evaluated=False)
    if any(pattern.search(s) for s in strings if s is not None):
        return _Outcome(True, value)
    return _Outcome(False, value, f"/{check['pattern']}/ does not match {_show(value)}")


def _numeric(check: Mapping[str, Any], value: Any, _: RunTests | None) -> _Outcome:
    number = _as_number(value)
    if number is None:
        return _Outcome(False, value, f"expected a number, got {_show(value)}", evaluated=False)
    problems = []
    if "expected" in check:
        expected = float(check["expected"])
        allowed = max(
            float(check.get("abs_tol", DEFAULT_ABS_TOL if "rel_tol" not in check else 0.0)),
            float(check.get("rel_tol", 0.0)) * abs(expected),
        )
        if not abs(number - expected) <= allowed:
            problems.append(f"{number:g} is not {expected:g} (± {allowed:g})")
    if "min" in check and not number >= check["min"]:
        problems.append(f"{number:g} is below the minimum {check['min']:g}")
    if "max" in check and not number <= check["max"]:
        problems.append(f"{number:g} is above the maximum {check['max']:g}")
    return _Outcome(not problems, value, "; ".join(problems) or None)


def _json_schema(check: Mapping[str, Any], value: Any, _: RunTests | None) -> _Outcome:
    validator = Draft202012Validator(check["schema"])
    errors = sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
    if errors:
        listed = "; ".join(_schema_error(e) for e in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        return _Outcome(False, value, f"not valid against the schema: {listed}{more}")
    problems = []
    for path, expected in dict(check.get("fields", {})).items():
        try:
            found = resolve(value, path)
        except PathError as exc:
            problems.append(str(exc))
            continue
        if not _equal(found, expected, True):
            problems.append(f"{path}: expected {_show(expected)}, got {_show(found)}")
    return _Outcome(not problems, value, "; ".join(problems) or None)


def _schema_error(error: Any) -> str:
    where = "".join(f"[{p!r}]" for p in error.absolute_path) or "the value"
    return f"{where}: {error.message}"


def _unit_tests(check: Mapping[str, Any], value: Any, run_tests: RunTests | None) -> _Outcome:
    code = _code_of(value)
    if code is None:
        return _Outcome(
            False, value, f"expected Python source, got {_type(value)}", evaluated=False
        )
    if run_tests is None:
        return _Outcome(False, code, "the Sandbox is not available: no test runner to run them")
    run, failure = _run(run_tests, {SOLUTION_FILE: code, TESTS_FILE: check["tests"]})
    if run is None:
        return _Outcome(False, code, failure)
    total, passed = run.total or 0, run.passed or 0
    if total <= 0:
        return _Outcome(False, code, f"no test ran: {run.reason or 'empty report'}", score=0.0)
    detail = None if passed == total else _describe(run)
    return _Outcome(passed == total, code, detail, score=passed / total)


def _catches_bug(check: Mapping[str, Any], value: Any, run_tests: RunTests | None) -> _Outcome:
    tests = _code_of(value)
    if tests is None:
        return _Outcome(
            False, value, f"expected pytest source, got {_type(value)}", evaluated=False
        )
    if run_tests is None:
        return _Outcome(False, tests, "the Sandbox is not available: no test runner to run them")
    buggy = check["buggy"]
    versions = [("correct", check["correct"])] + [
        (f"buggy #{n}", source)
        for n, source in enumerate([buggy] if isinstance(buggy, str) else buggy, 1)
    ]
    problems = []
    for label, source in versions:
        run, failure = _run(run_tests, {SOLUTION_FILE: source, TESTS_FILE: tests})
        if run is None:
            problems.append(f"{label}: {failure}")
            continue
        total, passed = run.total or 0, run.passed or 0
        bad = (run.failed or 0) + (run.errors or 0)
        if label == "correct" and (total <= 0 or passed <= 0 or bad > 0):
            problems.append(f"the tests must pass on the correct implementation: {_describe(run)}")
        elif label != "correct" and (total <= 0 or bad == 0):
            problems.append(f"the tests do not catch the bug ({label}): {_describe(run)}")
    return _Outcome(not problems, tests, "; ".join(problems) or None)


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
    failures = []
    for failure in list(run.failures)[:5]:
        name = getattr(failure, "name", None)
        message = getattr(failure, "message", None)
        if isinstance(failure, Mapping):
            name, message = failure.get("name"), failure.get("message")
        failures.append(f"{name}: {_cut(str(message), 200)}")
    reason = f" ({run.reason})" if run.reason else ""
    return counts + reason + (f"; {'; '.join(failures)}" if failures else "")


_CHECKERS: dict[str, Callable[[Mapping[str, Any], Any, RunTests | None], _Outcome]] = {
    "exact": _exact,
    "contains": _contains,
    "regex": _regex,
    "numeric": _numeric,
    "json_schema": _json_schema,
    "unit_tests": _unit_tests,
    "catches_bug": _catches_bug,
}


# -- comparing values --------------------------------------------------------------------


def _equal(actual: Any, expected: Any, fold: bool) -> bool:
    if isinstance(actual, bool) or isinstance(expected, bool):
        return type(actual) is type(expected) and actual == expected
    if isinstance(expected, str):
        if not isinstance(actual, str):
            return False
        return (
            actual.strip().casefold() == expected.strip().casefold()
            if fold
            else (actual == expected)
        )
    if isinstance(expected, int | float):
        return isinstance(actual, int | float) and actual == expected
    if isinstance(expected, list | tuple):
        return (
            isinstance(actual, list | tuple)
            and len(actual) == len(expected)
            and all(_equal(a, e, fold) for a, e in zip(actual, expected, strict=True))
        )
    if isinstance(expected, Mapping):
        return (
            isinstance(actual, Mapping)
            and set(actual) == set(expected)
            and all(_equal(actual[k], v, fold) for k, v in expected.items())
        )
    return bool(actual is None and expected is None)


def _matches(element: Any, expected: Any, fold: bool) -> bool:
    """``element`` equals ``expected``, or holds at least its fields when it is an object."""
    if isinstance(expected, Mapping):
        return isinstance(element, Mapping) and all(
            key in element and _matches(element[key], value, fold)
            for key, value in expected.items()
        )
    return _equal(element, expected, fold)


_NUMBER = re.compile(r"[-+]?(?:\d[\d_]*\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def _as_number(value: Any) -> float | None:
    if _is_number(value):
        return float(value)
    if not isinstance(value, str):
        return None
    text = value.strip().replace(",", "")
    found = _NUMBER.findall(text)
    if len(found) != 1:
        return None
    try:
        number = float(found[0].replace("_", ""))
    except ValueError:
        return None
    return number if math.isfinite(number) else None


# -- answers -----------------------------------------------------------------------------

_FENCE = re.compile(r"```[ \t]*(?:[\w+-]+)?[ \t]*\n(.*?)```", re.DOTALL)


def normalise_answer(answer: Any, answer_format: str) -> Any:
    """The agent's answer in the shape the item's checks expect; _UnusableAnswerError (a failed
    grade) when it cannot be that."""
    if isinstance(answer, Mapping) and answer_format != "json" and set(answer) == {"answer"}:
        answer = answer["answer"]
    if answer_format == "python":
        code = _code_of(answer)
        if code is None:
            raise _UnusableAnswerError(
                f"expected Python source as a string or {{'code': ...}}, got {_type(answer)}"
            )
        return code
    if answer_format == "json":
        if isinstance(answer, str):
            text = _unfenced(answer)
            try:
                return json.loads(text)
            except ValueError as exc:
                raise _UnusableAnswerError(f"the answer is not valid JSON: {exc}") from None
        if answer is None or isinstance(answer, bool | int | float | str | list | dict):
            return answer
        raise _UnusableAnswerError(f"expected a JSON value, got {type(answer).__name__}")
    if answer_format == "number":
        number = _as_number(answer)
        if number is None:
            raise _UnusableAnswerError(f"expected a number, got {_show(answer)}")
        return int(number) if number.is_integer() and abs(number) < 2**63 else number
    if isinstance(answer, str):
        return answer
    if _is_number(answer):
        return str(answer)
    raise _UnusableAnswerError(f"expected a text answer (a string), got {_type(answer)}")


def _code_of(value: Any) -> str | None:
    if isinstance(value, Mapping) and isinstance(value.get("code"), str):
        value = value["code"]
    if not isinstance(value, str) or not value.strip():
        return None
    return _unfenced(value)


def _unfenced(text: str) -> str:
    match = _FENCE.search(text)
    return match.group(1) if match else text


# -- showing values ------------------------------------------------------------------------


def _cut(text: str, limit: int = DETAIL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _show(value: Any) -> str:
    try:
        text = json.dumps(value, default=str, ensure_ascii=False)
    except (ValueError, TypeError, RecursionError):
        text = f"<{_type(value)}>"
    return _cut(text, 200)


def _preview(value: Any) -> Any:
    """``value`` as JSON can store it, cut to about PREVIEW_CHARS."""
    if isinstance(value, str):
        return _cut(value, PREVIEW_CHARS)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int) and abs(value) < 2**63:
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    try:
        text = json.dumps(value, default=str, ensure_ascii=False, allow_nan=False)
    except (ValueError, TypeError, RecursionError):
        return f"<{_type(value)} that cannot be shown>"
    if len(text) <= PREVIEW_CHARS:
        return json.loads(text) if text[:1] in "[{" else text
    return _cut(text, PREVIEW_CHARS)


def iter_checks(checks: Sequence[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    """Every check, the ones wrapped by ``not`` included."""
    for check in checks:
        yield check
        if check.get("kind") == "not" and isinstance(check.get("check"), Mapping):
            yield from iter_checks([check["check"]])
