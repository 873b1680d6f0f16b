"""The custody test bank: the shipped items load, cover every category and tier, and
malformed items are refused with the file and item named."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from imperium.domain.custody import TIERS, Category, Difficulty
from imperium.services.custody.bank import (
    BUILTIN_TASK_TYPES,
    Bank,
    ValidationError,
    default_bank,
    load_bank,
)
from imperium.services.custody.graders import DEFAULT_THRESHOLDS

BANK_DIR = Path(__file__).resolve().parents[3] / "src/imperium/services/custody/bank"

# Where the agent-task items sit (bank.py's docstring says why).
AGENT_TASK_CATEGORIES = {
    "code_review": {Category.SECURITY_AWARENESS, Category.CODE_QUALITY},
    "security_scan": {Category.SECURITY_AWARENESS},
    "run_tests": {Category.EXPERIMENTAL_VALIDATION, Category.CODE_QUALITY},
    "run_code": {Category.EXPERIMENTAL_VALIDATION, Category.CODE_QUALITY},
    "log_analysis": {
        Category.KNOWLEDGE_VERIFICATION,
        Category.SELF_IMPROVEMENT,
        Category.CROSS_AI_COLLABORATION,
    },
    "performance_analysis": {Category.PERFORMANCE_OPTIMIZATION},
    "learning_cycle": {Category.SELF_IMPROVEMENT},
}


@pytest.fixture(scope="module")
def bank() -> Bank:
    return load_bank()


def test_the_shipped_bank_loads(bank: Bank) -> None:
    assert len(bank) >= 130
    assert default_bank() is default_bank()
    assert len(default_bank()) == len(bank)


def test_every_cell_has_two_items_and_two_answer_items(bank: Bank) -> None:
    coverage = bank.coverage()
    assert set(coverage) == {(c, d) for c in Category for d in TIERS}
    thin = {cell: counts for cell, counts in coverage.items() if sum(counts.values()) < 2}
    few_answers = {cell: counts for cell, counts in coverage.items() if counts.get("answer", 0) < 2}
    assert not thin
    assert not few_answers


def test_agent_task_items_are_enough_and_where_documented(bank: Bank) -> None:
    counts = Counter(item.task_type for item in bank)
    assert counts["code_review"] >= 8
    assert counts["run_tests"] + counts["run_code"] >= 6
    assert counts["log_analysis"] >= 8
    assert counts["performance_analysis"] >= 3
    assert counts["learning_cycle"] >= 1
    for item in bank:
        if not item.is_answer:
            assert item.category in AGENT_TASK_CATEGORIES[item.task_type], item.id


def test_every_agent_task_item_targets_a_built_in_task_type(bank: Bank) -> None:
    assert bank.task_types() == {"answer", *BUILTIN_TASK_TYPES}
    for item in bank.items():
        assert item.is_answer or item.task_type in BUILTIN_TASK_TYPES, item.id


def test_ids_are_unique_across_the_files() -> None:
    ids = [raw["id"] for file in BANK_DIR.glob("*.json") for raw in json.loads(file.read_text())]
    assert len(ids) == len(set(ids))


def test_one_file_per_category_holding_only_that_category() -> None:
    assert {file.stem for file in BANK_DIR.glob("*.json")} == {c.value for c in Category}
    for file in BANK_DIR.glob("*.json"):
        assert {raw["category"] for raw in json.loads(file.read_text())} == {file.stem}


def test_every_item_has_a_reference_answer(bank: Bank) -> None:
    missing = [item.id for item in bank if item.reference is None]
    assert not missing


def test_thresholds_default_per_tier_and_code_needs_every_test(bank: Bank) -> None:
    for item in bank:
        kinds = {check.kind for check in item.checks}
        if kinds & {"unit_tests", "catches_bug"}:
            assert item.threshold == 1.0, item.id
        raw_threshold = item.threshold
        assert 0 < raw_threshold <= 1
    basic = bank.get("kv-b-http-429")
    assert basic.threshold == DEFAULT_THRESHOLDS[Difficulty.BASIC] == 0.6
    assert bank.get("kv-l-tcp-time-wait").threshold == 1.0


def test_filters(bank: Bank) -> None:
    security = bank.items(category=Category.SECURITY_AWARENESS)
    assert security
    assert all(i.category is Category.SECURITY_AWARENESS for i in security)
    expert = bank.items(category="security_awareness", difficulty="expert")
    assert expert
    assert all(i.difficulty is Difficulty.EXPERT for i in expert)
    guardian = bank.items(task_types={"code_review", "security_scan"})
    assert {i.task_type for i in guardian} == {"code_review", "security_scan"}
    assert bank.items(task_types=set()) == []
    assert bank.items(task_types=["nothing_like_it"]) == []
    assert len(bank.items()) == len(bank)


def test_items_carry_what_a_task_needs(bank: Bank) -> None:
    item = bank.get("sec-b-shell-true")
    assert "sec-b-shell-true" in bank
    assert "no-such-item" not in bank
    assert (item.version, item.task_type, item.file) == (
        1,
        "code_review",
        "security_awareness.json",
    )
    assert item.time_limit == 300.0
    payload = item.task_payload()
    payload["code"] = "changed"
    assert item.payload["code"] != "changed"
    assert hash(item) == hash(bank.get("sec-b-shell-true"))
    answer = bank.get("kv-b-http-429")
    assert answer.is_answer
    assert answer.answer_format == "number"
    assert item.answer_format is None
    with pytest.raises(KeyError):
        bank.get("no-such-item")


# -- validation -----------------------------------------------------------------------------


def valid_item(**changes: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": "tmp-b-item",
        "version": 1,
        "category": "knowledge_verification",
        "difficulty": "basic",
        "task_type": "answer",
        "payload": {"question": "What is 6 times 7?", "format": "number"},
        "prompt": "Multiply.",
        "checks": [{"kind": "numeric", "expected": 42}],
        "reference": 42,
    }
    item.update(changes)
    return {k: v for k, v in item.items() if v is not ...}


def write(directory: Path, name: str, content: Any) -> None:
    text = content if isinstance(content, str) else json.dumps(content)
    (directory / name).write_text(text, encoding="utf-8")


def test_a_valid_temporary_bank_loads(tmp_path: Path) -> None:
    write(tmp_path, "mine.json", [valid_item(), valid_item(id="tmp-b-other", threshold=0.5)])
    bank = load_bank(tmp_path)
    assert [i.id for i in bank] == ["tmp-b-item", "tmp-b-other"]
    assert bank.get("tmp-b-item").threshold == 0.6
    assert bank.get("tmp-b-other").threshold == 0.5
    assert load_bank(str(tmp_path)).get("tmp-b-item").file == "mine.json"


def _check(**check: Any) -> dict[str, Any]:
    return valid_item(checks=[check])


MALFORMED = [
    pytest.param(valid_item(prompt=...), "missing prompt", id="missing-key"),
    pytest.param(valid_item(extra=1), "unknown keys ['extra']", id="unknown-key"),
    pytest.param(valid_item(version=0), "version must be a whole number", id="version"),
    pytest.param(valid_item(category="poetry"), "unknown category 'poetry'", id="category"),
    pytest.param(valid_item(difficulty="mythic"), "unknown difficulty", id="difficulty"),
    pytest.param(valid_item(task_type="Not A Type"), "task_type must be", id="task-type"),
    pytest.param(valid_item(payload=[1]), "payload must be an object", id="payload"),
    pytest.param(valid_item(prompt="  "), "prompt must be a non-empty", id="prompt"),
    pytest.param(valid_item(checks=[]), "checks must be a non-empty list", id="no-checks"),
    pytest.param(valid_item(threshold=1.5), "threshold must be in (0, 1]", id="threshold"),
    pytest.param(valid_item(threshold="high"), "threshold must be a number", id="threshold-type"),
    pytest.param(
        valid_item(payload={"question": "Q?", "format": "essay"}),
        "answer format must be one of",
        id="answer-format",
    ),
    pytest.param(
        valid_item(payload={"format": "number"}), "needs a question", id="answer-question"
    ),
    pytest.param(
        valid_item(payload={"question": "Q?", "format": "text", "hint": "x"}),
        "question and format only",
        id="answer-extra",
    ),
    pytest.param(_check(kind="guess"), "unknown kind 'guess'", id="kind"),
    pytest.param(_check(kind="exact"), "(exact) lacks expected", id="exact-expected"),
    pytest.param(_check(kind="exact", expected=1, tolerance=2), "unknown keys", id="check-key"),
    pytest.param(_check(kind="regex", pattern="(unclosed"), "does not compile", id="regex"),
    pytest.param(_check(kind="regex", pattern="x", flags="q"), "flags must be", id="flags"),
    pytest.param(_check(kind="numeric"), "numeric needs expected, min or max", id="numeric"),
    pytest.param(
        _check(kind="numeric", expected=1, abs_tol=-1), "abs_tol must not be negative", id="tol"
    ),
    pytest.param(_check(kind="numeric", min=2, max=1), "min is above max", id="min-max"),
    pytest.param(
        _check(kind="json_schema", schema={"type": "thing"}), "invalid JSON schema", id="schema"
    ),
    pytest.param(_check(kind="exact", expected=1, path="a..b"), "bad path", id="path"),
    pytest.param(
        valid_item(
            payload={"question": "Write f.", "format": "python"},
            checks=[{"kind": "unit_tests", "tests": "import solution\n"}],
        ),
        "tests must be pytest source",
        id="unit-tests-empty",
    ),
    pytest.param(
        _check(kind="unit_tests", tests="def test_x():\n    pass\n"),
        "unit_tests checks need the answer format python",
        id="unit-tests-format",
    ),
    pytest.param(
        valid_item(
            payload={"question": "Test f.", "format": "python"},
            checks=[{"kind": "catches_bug", "buggy": "def f(): pass\n"}],
        ),
        "(catches_bug) lacks correct",
        id="catches-bug",
    ),
    pytest.param(
        _check(kind="not", check={"kind": "unit_tests", "tests": "def test_x(): pass"}),
        "'not' cannot wrap a unit_tests check",
        id="not-unit-tests",
    ),
    pytest.param(
        _check(kind="not", check={"kind": "regex"}), "(regex) lacks pattern", id="not-inner"
    ),
]


@pytest.mark.parametrize(("item", "message"), MALFORMED)
def test_malformed_items_are_refused_naming_file_and_item(
    tmp_path: Path, item: dict[str, Any], message: str
) -> None:
    write(tmp_path, "broken.json", [valid_item(id="tmp-b-fine"), item])
    with pytest.raises(ValidationError) as info:
        load_bank(tmp_path)
    text = str(info.value)
    assert text.startswith("broken.json: item 'tmp-b-item': "), text
    assert message in text
    assert (info.value.file, info.value.item_id) == ("broken.json", "tmp-b-item")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param("[{", "broken.json: not valid JSON", id="json"),
        pytest.param({"id": "x"}, "broken.json: a bank file must hold a JSON list", id="object"),
        pytest.param([["not", "an", "item"]], "item #0 is not an object", id="item-type"),
        pytest.param([valid_item(id="Bad Id")], "item #0: id must be", id="id"),
    ],
)
def test_malformed_files_are_refused(tmp_path: Path, content: Any, message: str) -> None:
    write(tmp_path, "broken.json", content)
    with pytest.raises(ValidationError, match=r"broken\.json") as info:
        load_bank(tmp_path)
    assert message in str(info.value)


def test_duplicate_ids_name_both_files(tmp_path: Path) -> None:
    write(tmp_path, "a.json", [valid_item()])
    write(tmp_path, "b.json", [valid_item()])
    with pytest.raises(ValidationError, match=r"b.json: item 'tmp-b-item': duplicate id \(also"):
        load_bank(tmp_path)
    write(tmp_path, "b.json", [])
    write(tmp_path, "a.json", [valid_item(), valid_item()])
    with pytest.raises(ValidationError, match="duplicate id"):
        load_bank(tmp_path)


def test_a_directory_without_bank_files_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="no bank files"):
        load_bank(tmp_path)
    with pytest.raises(ValidationError, match="does not exist"):
        load_bank(tmp_path / "missing")
    (tmp_path / "notes.txt").write_text("not a bank file")
    with pytest.raises(ValidationError, match="no bank files"):
        load_bank(tmp_path)
