"""Custody graders: every check kind with right and wrong answers, paths that are missing,
answers of the wrong type — and the whole bank: each item's reference passes its own
grader, wrong answers fail and deliberately bad agents fail all of them. Grading with the
real Sandbox (unit tests, code references, the built-in agents' items) is in
tests/integration/sandbox/test_custody_sandbox.py."""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from imperium.adapters.storage.memory import MemoryStore
from imperium.agents.base import TaskContext
from imperium.agents.echo import EchoAgent
from imperium.agents.imperium import ImperiumAgent
from imperium.domain.models import AgentSpec
from imperium.domain.prediction import PairRates
from imperium.domain.routing import Router
from imperium.services.custody.bank import Item, default_bank, parse_item
from imperium.services.custody.graders import (
    PathError,
    grade,
    normalise_answer,
    parse_check,
    resolve,
)
from imperium.services.custody.graders.checks import NotCheck, RegexCheck
from imperium.services.learning.service import Learner
from tests.support.learning_history import history

CODE_KINDS = {"unit_tests", "catches_bug"}


def item(
    checks: list[dict[str, Any]],
    *,
    task_type: str = "code_review",
    answer_format: str | None = None,
    threshold: float | None = None,
    difficulty: str = "basic",
) -> Item:
    raw: dict[str, Any] = {
        "id": "t-item",
        "version": 1,
        "category": "code_quality",
        "difficulty": difficulty,
        "task_type": task_type,
        "payload": {"code": "x = 1\n"},
        "prompt": "A test item.",
        "checks": checks,
    }
    if answer_format is not None:
        raw["task_type"] = "answer"
        raw["payload"] = {"question": "Q?", "format": answer_format}
    if threshold is not None:
        raw["threshold"] = threshold
    return parse_item(raw)


def one(check: dict[str, Any], result: Any, **options: Any) -> dict[str, Any]:
    """The single check entry of grading ``result``."""
    run_tests = options.pop("run_tests", None)
    [entry] = grade(item([check], **options), result, run_tests=run_tests).checks
    return entry


@dataclass
class FakeRun:
    passed: int | None
    failed: int | None = 0
    errors: int | None = 0
    total: int | None = None
    reason: str | None = None
    failures: list[dict[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.total is None and self.passed is not None:
            self.total = self.passed + (self.failed or 0) + (self.errors or 0)


REVIEW = {
    "findings": [
        {"tool": "bandit", "rule": "B404", "severity": "low", "line": 1},
        {"tool": "bandit", "rule": "B602", "severity": "critical", "line": 5},
    ],
    "summary": {"by_tool": {"bandit": 2}, "files_scanned": 1},
    "tests": {"passed": 3, "failed": 1, "total": 4},
}


# -- paths --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$", REVIEW),
        ("findings[*].rule", ["B404", "B602"]),
        ("findings[1].line", 5),
        ("findings[-1].rule", "B602"),
        ("$.tests.passed", 3),
        ("summary.by_tool.bandit", 2),
        ("findings[rule=B602].severity", "critical"),
        ("findings[line=5].tool", "bandit"),
    ],
)
def test_paths_select_values(path: str, expected: Any) -> None:
    assert resolve(REVIEW, path) == expected


def test_collecting_paths_skip_elements_without_the_rest() -> None:
    data = {"items": [{"a": {"b": 1}}, {"a": 2}, {"c": 3}, {"a": {"b": 4}}]}
    assert resolve(data, "items[*].a.b") == [1, 4]
    assert resolve({"items": []}, "items[*].a") == []
    assert resolve([[1, 2], [3]], "[*][*]") == [1, 2, 3]


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("missing", "no key 'missing' (keys: findings, summary, tests)"),
        ("findings[7]", "no index 7 in a list of 2"),
        ("findings[rule=B101]", "no element with rule = 'B101'"),
        ("summary.by_tool.ruff", "at $.summary.by_tool, no key 'ruff'"),
        ("tests.passed.more", "the value is a number, not an object"),
        ("summary[*]", "[*] needs a list, the value is an object"),
    ],
)
def test_missing_paths_say_where(path: str, message: str) -> None:
    with pytest.raises(PathError) as info:
        resolve(REVIEW, path)
    assert message in str(info.value)


@pytest.mark.parametrize("path", ["a..b", "a b", "[x", "a[0]b", ".", "$$", ""])
def test_bad_paths_are_path_errors(path: str) -> None:
    with pytest.raises(PathError):
        resolve(REVIEW, path)


def test_a_missing_path_is_a_failed_check_never_an_exception() -> None:
    check = {"kind": "contains", "path": "findings[*].rule", "expected": "B602"}
    entry = one(check, {"summary": {}})
    assert entry["ok"] is False
    assert entry["score"] == 0
    assert "no key 'findings'" in entry["detail"]
    for result in (None, [], "text", 7, {"findings": "not a list"}):
        assert one(check, result)["ok"] is False


# -- check kinds --------------------------------------------------------------------------------


def test_exact() -> None:
    assert one({"kind": "exact", "path": "tests.passed", "expected": 3}, REVIEW)["ok"]
    entry = one({"kind": "exact", "path": "tests.passed", "expected": 4}, REVIEW)
    assert (entry["ok"], entry["actual"], entry["detail"]) == (False, 3, "expected 4, got 3")
    assert one({"kind": "exact", "expected": "READ Committed "}, "read committed")["ok"]
    strict = {"kind": "exact", "expected": "False", "case_sensitive": True}
    assert one(strict, "False")["ok"]
    assert not one(strict, "false")["ok"]
    assert not one({"kind": "exact", "expected": 1}, True)["ok"]
    assert not one({"kind": "exact", "expected": True}, 1)["ok"]
    assert one({"kind": "exact", "expected": None}, None)["ok"]
    assert one({"kind": "exact", "expected": [{"a": "X"}]}, [{"a": "x"}])["ok"]
    assert not one({"kind": "exact", "expected": [{"a": 1}]}, [{"a": 1, "b": 2}])["ok"]
    assert not one({"kind": "exact", "expected": "1"}, 1)["ok"]


def test_contains() -> None:
    rule = {"kind": "contains", "path": "findings[*].rule", "expected": "b602"}
    assert one(rule, REVIEW)["ok"]
    both = {"kind": "contains", "path": "findings", "expected": {"rule": "B602", "line": 5}}
    assert one(both, REVIEW)["ok"]
    elsewhere = {"kind": "contains", "path": "findings", "expected": {"rule": "B602", "line": 1}}
    entry = one(elsewhere, REVIEW)
    assert not entry["ok"]
    assert "is not among 2 values" in entry["detail"]
    assert one({"kind": "contains", "expected": "Refused"}, "connection refused")["ok"]
    assert not one({"kind": "contains", "expected": "x", "case_sensitive": True}, "X")["ok"]
    assert one({"kind": "contains", "expected": "summary"}, REVIEW)["ok"]
    assert not one({"kind": "contains", "expected": 5}, "5 apples")["ok"]
    assert not one({"kind": "contains", "expected": 5}, 5)["ok"]


def test_regex() -> None:
    check = {"kind": "regex", "path": "findings[*].rule", "pattern": "^B6\\d\\d$"}
    assert one(check, REVIEW)["ok"]
    assert not one({**check, "pattern": "^B7"}, REVIEW)["ok"]
    flags = {"kind": "regex", "pattern": "^time_wait$", "flags": "i"}
    assert one(flags, "TIME_WAIT")["ok"]
    assert not one({**flags, "flags": ""}, "TIME_WAIT")["ok"]
    assert one({"kind": "regex", "pattern": "^(14|23)$"}, [7, 23])["ok"]
    entry = one({"kind": "regex", "pattern": "x"}, {"an": "object"})
    assert not entry["ok"]
    assert "expected text" in entry["detail"]


def test_numeric() -> None:
    assert one({"kind": "numeric", "expected": 4.7059, "abs_tol": 0.01}, 4.71)["ok"]
    assert not one({"kind": "numeric", "expected": 4.7059, "abs_tol": 0.001}, 4.71)["ok"]
    assert one({"kind": "numeric", "expected": 5e-6, "rel_tol": 1e-3}, 0.000005001)["ok"]
    assert not one({"kind": "numeric", "expected": 5e-6, "rel_tol": 1e-6}, 0.000006)["ok"]
    assert one({"kind": "numeric", "expected": 429}, "429")["ok"]
    bounds = {"kind": "numeric", "path": "ratio", "min": 1.2, "max": 1.3}
    assert one(bounds, {"ratio": 1.25})["ok"]
    entry = one(bounds, {"ratio": 1.1})
    assert not entry["ok"]
    assert "below the minimum 1.2" in entry["detail"]
    assert "above the maximum" in one(bounds, {"ratio": 2})["detail"]
    for wrong in (True, None, "a lot", [1.25], {"v": 1}, float("nan")):
        entry = one({"kind": "numeric", "expected": 1}, wrong)
        assert not entry["ok"], wrong
        assert "expected a number" in entry["detail"], wrong


SCHEMA = {
    "type": "object",
    "required": ["to", "payload"],
    "properties": {"to": {"type": "string"}, "payload": {"type": "object"}},
}


def test_json_schema() -> None:
    check = {"kind": "json_schema", "schema": SCHEMA, "fields": {"to": "guardian"}}
    assert one(check, {"to": "Guardian", "payload": {}})["ok"]
    entry = one(check, {"to": "sandbox", "payload": {}})
    assert not entry["ok"]
    assert 'to: expected "guardian", got "sandbox"' in entry["detail"]
    entry = one(check, {"to": 3})
    assert not entry["ok"]
    assert "not valid against the schema" in entry["detail"]
    assert "'payload' is a required property" in entry["detail"]
    deep = {"kind": "json_schema", "schema": SCHEMA, "fields": {"payload.code": "x"}}
    assert "no key 'code'" in one(deep, {"to": "a", "payload": {}})["detail"]


def test_json_answers_are_parsed_and_invalid_json_fails_with_the_error() -> None:
    check = {"kind": "json_schema", "schema": SCHEMA}
    good = '```json\n{"to": "guardian", "payload": {}}\n```'
    assert one(check, good, answer_format="json")["ok"]
    assert one(check, {"to": "guardian", "payload": {}}, answer_format="json")["ok"]
    entry = one(check, '{"to": "guardian", ', answer_format="json")
    assert not entry["ok"]
    assert entry["detail"].startswith("the answer is not valid JSON")


def test_not_must_fail_its_check_and_cannot_pass_on_a_missing_value() -> None:
    check = {
        "kind": "not",
        "check": {"kind": "contains", "path": "findings[*].rule", "expected": "B101"},
    }
    entry = one(check, REVIEW)
    assert entry["ok"]
    assert entry["path"] == "findings[*].rule"
    entry = one(check, {"findings": [{"rule": "B101"}]})
    assert not entry["ok"]
    assert "the wrapped check passed" in entry["detail"]
    entry = one(check, {})
    assert not entry["ok"]
    assert "cannot evaluate" in entry["detail"]


# -- answers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "answer_format", "expected"),
    [
        ("429", "number", 429),
        (" about 4.71 ", "number", 4.71),
        ("4,503,599,627,370,496", "number", 4503599627370496),
        ({"answer": 30}, "number", 30),
        (2.5, "number", 2.5),
        ("B602", "text", "B602"),
        ({"answer": "fork"}, "text", "fork"),
        (8, "text", "8"),
        ({"answer": 1}, "json", {"answer": 1}),
        ("[1, 2]", "json", [1, 2]),
        ("def f():\n    pass\n", "python", "def f():\n    pass\n"),
        ({"code": "x = 1\n"}, "python", "x = 1\n"),
        ("Here:\n```python\nx = 2\n```\nDone.", "python", "x = 2\n"),
    ],
)
def test_answers_are_normalised(answer: Any, answer_format: str, expected: Any) -> None:
    assert normalise_answer(answer, answer_format) == expected


@pytest.mark.parametrize(
    ("answer", "answer_format", "message"),
    [
        ("I don't know", "number", "expected a number"),
        ("between 2 and 3", "number", "expected a number"),
        (True, "number", "expected a number"),
        ({"value": 3}, "number", "expected a number"),
        ({"a": 1}, "text", "expected a text answer"),
        (None, "text", "expected a text answer"),
        (["B602"], "text", "expected a text answer"),
        (42, "python", "expected Python source"),
        ({"source": "x = 1"}, "python", "expected Python source"),
        ("   ", "python", "expected Python source"),
        ("{oops", "json", "not valid JSON"),
        (object(), "json", "expected a JSON value"),
    ],
)
def test_answers_of_the_wrong_type_fail_every_check(
    answer: Any, answer_format: str, message: str
) -> None:
    checks = [{"kind": "exact", "expected": 1}, {"kind": "regex", "pattern": "."}]
    graded = grade(item(checks, answer_format=answer_format), answer)
    assert (graded.score, graded.passed) == (0.0, False)
    assert all(message in c["detail"] for c in graded.checks)
    json.dumps(graded.as_json())


def test_the_score_is_the_mean_of_the_checks_against_the_threshold() -> None:
    checks = [
        {"kind": "exact", "path": "a", "expected": 1},
        {"kind": "exact", "path": "b", "expected": 2},
        {"kind": "exact", "path": "c", "expected": 3},
    ]
    two_of_three = {"a": 1, "b": 2, "c": 0}
    graded = grade(item(checks), two_of_three)
    assert (round(graded.score, 3), graded.threshold, graded.passed) == (0.667, 0.6, True)
    graded = grade(item(checks, difficulty="advanced"), two_of_three)
    assert (graded.threshold, graded.passed) == (0.75, False)
    graded = grade(item(checks, threshold=0.5, difficulty="legendary"), two_of_three)
    assert (graded.threshold, graded.passed) == (0.5, True)
    assert grade(item(checks), {"a": 1, "b": 2, "c": 3}).score == 1.0
    assert [c["ok"] for c in grade(item(checks), {}).checks] == [False, False, False]


def test_grader_output_is_json_and_long_values_are_cut() -> None:
    check = {"kind": "exact", "path": "log", "expected": "short"}
    graded = grade(item([check]), {"log": "x" * 10_000})
    entry = graded.as_json()["checks"][0]
    assert len(entry["actual"]) <= 500
    assert entry["actual"].endswith("…")
    assert set(entry) == {"kind", "path", "expected", "actual", "ok", "score", "detail"}
    deep: Any = []
    for _ in range(5000):
        deep = [deep]
    graded = grade(item([{"kind": "exact", "expected": 1}]), deep)
    assert not graded.passed
    json.dumps(graded.as_json())


# -- unit tests ---------------------------------------------------------------------------------

TESTS = (
    "from solution import add\n\n\n"
    "def test_small():\n    assert add(1, 2) == 3\n\n\n"
    "def test_negative():\n    assert add(-1, -1) == -2\n"
)


def test_unit_tests_without_a_sandbox_fail_saying_so() -> None:
    check = {"kind": "unit_tests", "tests": TESTS}
    entry = one(check, "def add(a, b):\n    return a + b\n", answer_format="python")
    assert not entry["ok"]
    assert "the Sandbox is not available" in entry["detail"]


def test_unit_tests_score_the_share_of_passing_tests() -> None:
    seen: list[dict[str, str]] = []

    def runner(files: dict[str, str]) -> FakeRun:
        seen.append(files)
        return FakeRun(
            3, failed=1, failures=[{"name": "test_solution::test_x", "message": "assert 1 == 2"}]
        )

    check = {"kind": "unit_tests", "tests": TESTS}
    entry = one(check, {"code": "CODE"}, answer_format="python", run_tests=runner)
    assert (entry["ok"], entry["score"]) == (False, 0.75)
    assert "test_solution::test_x: assert 1 == 2" in entry["detail"]
    assert seen == [{"solution.py": "CODE", "test_solution.py": TESTS}]
    no_report = one(
        check, "x", answer_format="python", run_tests=lambda f: FakeRun(None, reason="killed")
    )
    assert (no_report["ok"], no_report["score"]) == (False, 0.0)
    assert "killed" in no_report["detail"]


def test_a_broken_sandbox_is_a_failed_check_not_a_crash() -> None:
    def runner(files: dict[str, str]) -> FakeRun:
        raise OSError("no space left")

    entry = one(
        {"kind": "unit_tests", "tests": TESTS}, "x", answer_format="python", run_tests=runner
    )
    assert not entry["ok"]
    assert "the Sandbox failed to run the tests: OSError" in entry["detail"]


def test_catches_bug_needs_passing_on_correct_and_failing_on_every_buggy_version() -> None:
    check = {"kind": "catches_bug", "correct": "GOOD", "buggy": ["BAD1", "BAD2"]}

    def runner_for(failing: set[str]) -> Callable[[dict[str, str]], FakeRun]:
        def run(files: dict[str, str]) -> FakeRun:
            return FakeRun(1, failed=1) if files["solution.py"] in failing else FakeRun(2)

        return run

    def grade_with(failing: set[str]) -> dict[str, Any]:
        return one(check, "TESTS", answer_format="python", run_tests=runner_for(failing))

    assert grade_with({"BAD1", "BAD2"})["ok"]
    entry = grade_with({"BAD1"})
    assert not entry["ok"]
    assert "do not catch the bug (buggy #2)" in entry["detail"]
    entry = grade_with({"GOOD", "BAD1", "BAD2"})
    assert not entry["ok"]
    assert "must pass on the correct implementation" in entry["detail"]


# -- the bank: references, wrong answers, agents -------------------------------------------------

BANK = default_bank()
ANSWERS = [i for i in BANK if i.is_answer and not {c.kind for c in i.checks} & CODE_KINDS]
AGENT_ITEMS = [i for i in BANK if not i.is_answer]
WRONG = {"text": ["I don't know", "zzz"], "number": ["I don't know", -123456.789]}
WRONG["json"] = ["I don't know", {}, [], 42]


@pytest.mark.parametrize("bank_item", ANSWERS, ids=lambda i: i.id)
def test_answer_references_pass_and_wrong_answers_fail(bank_item: Item) -> None:
    graded = grade(bank_item, bank_item.reference)
    assert graded.passed, graded.checks
    for wrong in WRONG[str(bank_item.answer_format)]:
        assert not grade(bank_item, wrong).passed, wrong


@pytest.mark.parametrize("bank_item", AGENT_ITEMS, ids=lambda i: i.id)
def test_agent_task_references_pass_and_an_empty_result_fails(bank_item: Item) -> None:
    graded = grade(bank_item, bank_item.reference)
    assert graded.passed, graded.checks
    assert not grade(bank_item, {}).passed
    assert not grade(bank_item, None).passed


class Clock:
    t = 1_800_000_000.0

    def now(self) -> float:
        self.t += 1
        return self.t


async def test_the_imperium_agent_passes_the_learning_cycle_items() -> None:
    store = MemoryStore()
    await store.insert_agent(AgentSpec(id="good", type="remote", capabilities=frozenset({"x"})))
    await store.import_executions(history(60))
    learner = Learner(store, Clock(), lambda: "c1", Router(random.Random(1)), PairRates)
    cycles = [i for i in AGENT_ITEMS if i.task_type == "learning_cycle"]
    assert cycles
    for bank_item in cycles:
        ctx = TaskContext(
            "t1",
            bank_item.task_type,
            bank_item.task_payload(),
            1,
            "imperium",
            services={"learner": learner},
        )
        result = await ImperiumAgent().run(ctx)
        graded = grade(bank_item, result)
        assert graded.passed, graded.checks


LIAR = {
    "findings": [{"tool": "bandit", "rule": "B000", "severity": "low", "line": 1}],
    "summary": {},
    "category": "unknown",
    "evidence": [{"line_no": 1, "text": "", "rule": "none"}],
    "recommendations": ["Retry the job."],
    "exit_code": 0,
    "stdout": "",
    "stderr": "",
    "timed_out": False,
    "tests": {"passed": 0, "failed": 0, "errors": 0, "skipped": 0, "total": 0, "failures": []},
    "kind": "timings",
    "items": [],
    "regressions": [],
    "improvements": [],
    "too_few_samples": [],
    "status": "failed",
    "cycle_id": "",
}


async def test_deliberately_bad_agents_fail_every_item() -> None:
    """An echo agent (returns the payload), a lazy one ({}) and a liar (well-formed,
    plausible and wrong) pass nothing. Code answers are a stub's job (above)."""
    echo = EchoAgent()
    passed = []
    for bank_item in BANK:
        ctx = TaskContext("t1", bank_item.task_type, bank_item.task_payload(), 1, "bad")
        answers: list[Any] = [await echo.run(ctx), {}]
        if bank_item.is_answer and bank_item.answer_format != "python":
            answers.append(
                {"text": "42", "number": 42, "json": {"answer": 42}}[str(bank_item.answer_format)]
            )
        elif not bank_item.is_answer:
            answers.append(LIAR)
        passed += [(bank_item.id, a) for a in answers if grade(bank_item, a).passed]
    assert passed == []


# -- check models -------------------------------------------------------------------------------


def test_checks_are_models_chosen_by_their_kind() -> None:
    check = parse_check({"kind": "regex", "pattern": "^B6", "flags": "i"})
    assert isinstance(check, RegexCheck)
    assert check.compiled().search("b602")
    inner = parse_check({"kind": "not", "check": {"kind": "exact", "expected": 1}})
    assert isinstance(inner, NotCheck)
    assert inner.check.kind == "exact"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"kind": ["exact"]}, "check: unknown kind ['exact']; known: exact, contains"),
        ({"kind": "catches_bug", "buggy": 3, "correct": "x = 1"}, "buggy (one or a list)"),
        ({"kind": "exact", "expected": 1, "note": 3}, "check: note: input should be"),
        (
            {"kind": "not", "check": {"kind": "not", "check": {"kind": "exact"}}},
            "check (inside not) (inside not) (exact) lacks expected",
        ),
    ],
)
def test_a_malformed_check_is_refused_saying_why(raw: Any, message: str) -> None:
    with pytest.raises(ValueError, match=r"^check") as info:
        parse_check(raw)
    assert message in str(info.value)


def test_json_schema_checks_without_jsonschema_name_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The bank loads without the custody extra; grading a json_schema check fails it,
    saying what to install."""
    monkeypatch.setitem(sys.modules, "jsonschema", None)
    loaded = item([{"kind": "json_schema", "schema": SCHEMA}])
    [entry] = grade(loaded, {"to": "a", "payload": {}}).checks
    assert not entry["ok"]
    assert "MissingExtraError" in entry["detail"]
    assert "pip install 'imperium[custody]'" in entry["detail"]
