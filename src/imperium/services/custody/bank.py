"""The custody test bank: items per category and difficulty tier, read from
``bank/*.json`` (one file per category, each a list of items) and validated on load.

An item::

    {"id": "sec-b-shell-injection", "version": 1,
     "category": "security_awareness", "difficulty": "basic",
     "task_type": "code_review",     # what the agent receives; it must offer this capability
     "payload": {...},               # the task's payload, as that task type expects it
     "prompt": "what is asked, in plain English (for people reading results)",
     "checks": [{"kind": "contains", "path": "findings[*].rule", "expected": "B602"}],
     "threshold": 0.8,               # optional; the tier's default otherwise (graders)
     "reference": ...}               # optional: a correct result, for the bank's own tests

Bump ``version`` whenever an item's payload or checks change: results name the test id and
version they were graded against. Checks are described in ``graders``; each is parsed into
its model (``graders.checks``). Items whose answer is code (``unit_tests``,
``catches_bug``) set ``threshold`` 1.0: their score still shows the share of tests passed,
but a fix that passes only the tests the bug never broke is no fix, and a quadratic
solution that passes every test but the one counting its operations is not the answer
either.

Two families of items:

- **Answer items** (``task_type: "answer"``) for agents that answer questions (an LLM agent,
  or any agent offering the ``answer`` capability): ``payload`` is ``{"question": "...",
  "format": "text" | "number" | "json" | "python"}`` and the agent's result is the answer.
  Every cell (category x tier) has at least two.
- **Agent-task items** for the built-in agents' task types (:data:`BUILTIN_TASK_TYPES`),
  so any agent offering one of them — built-in, remote or on Ray — is tested on real work.
  Where they sit:

  - ``code_review`` / ``security_scan`` (Guardian): ``security_awareness`` when the problem
    is a bandit finding (shell, eval, pickle, SQL, YAML, secrets), ``code_quality`` when it
    is a lint or complexity finding (unused imports, undefined names, mutable defaults,
    complexity);
  - ``run_tests`` / ``run_code`` (Sandbox): ``experimental_validation`` (reporting what a
    run really did: counts with skips and errors, exit codes, a timed-out loop) and
    ``code_quality`` (a suite's verdict on a module);
  - ``log_analysis`` (Conquest): ``knowledge_verification`` for one clear failure to name,
    ``self_improvement`` for diagnosing a failed run among distractors (the causal line
    must be cited), ``cross_ai_collaboration`` for failures at the seams between
    components (a dependency conflict inside a CI job, a service that refused a
    connection, a peer-dependency clash);
  - ``performance_analysis`` (Conquest): ``performance_optimization`` (the regressed name
    flagged, by the right ratio; noise and too-small samples not flagged);
  - ``learning_cycle`` (Imperium): ``self_improvement`` (the cycle completes).

Harder tiers use subtler inputs: a problem hidden behind a helper, the one causal line in a
noisy log, a suite with skips and errors, a regression visible in the median only.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from imperium.domain.custody import TIERS, TIME_LIMITS, Category, Difficulty
from imperium.domain.errors import ValidationError as DomainValidationError
from imperium.services.custody.graders import (
    ANSWER,
    CODE_KINDS,
    DEFAULT_THRESHOLDS,
    FORMATS,
    Check,
    iter_checks,
    parse_check,
)

BUILTIN_TASK_TYPES: dict[str, str] = {
    "code_review": "guardian",
    "security_scan": "guardian",
    "run_code": "sandbox",
    "run_tests": "sandbox",
    "log_analysis": "conquest",
    "performance_analysis": "conquest",
    "learning_cycle": "imperium",
}
"""Task types of the built-in agents, and the agent that offers each."""

ITEM_KEYS = frozenset(
    {
        "id",
        "version",
        "category",
        "difficulty",
        "task_type",
        "payload",
        "prompt",
        "checks",
        "threshold",
        "reference",
    }
)
REQUIRED_KEYS = ITEM_KEYS - {"threshold", "reference"}
ANSWER_PAYLOAD_KEYS = frozenset({"question", "format"})
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,79}$")
_TASK_TYPE = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")


class ValidationError(DomainValidationError):
    """A bank file or item that is not valid; names the file and the item."""

    def __init__(self, message: str, *, file: str | None = None, item_id: str | None = None):
        where = " ".join(
            part for part in (file and f"{file}:", item_id and f"item {item_id!r}:") if part
        )
        super().__init__(f"{where} {message}" if where else message)
        self.file = file
        self.item_id = item_id


@dataclass(frozen=True, slots=True)
class Item:
    """One test of the bank. ``threshold`` is resolved (the tier's default when the file
    gives none). Treat ``payload`` and ``checks`` as read-only; :meth:`task_payload` is a
    copy to send."""

    id: str
    version: int
    category: Category
    difficulty: Difficulty
    task_type: str
    payload: dict[str, Any]
    prompt: str
    checks: tuple[Check, ...]
    threshold: float
    reference: Any = None
    file: str = ""

    def __hash__(self) -> int:
        return hash((self.id, self.version))

    @property
    def is_answer(self) -> bool:
        return self.task_type == ANSWER

    @property
    def answer_format(self) -> str | None:
        return str(self.payload["format"]) if self.is_answer else None

    @property
    def time_limit(self) -> float:
        """Seconds the agent gets for it (the tier's limit)."""
        return TIME_LIMITS[self.difficulty]

    def task_payload(self) -> dict[str, Any]:
        return copy.deepcopy(self.payload)


Cell = tuple[Category, Difficulty]


class Bank:
    """The validated items, by id; filter with :meth:`items`."""

    def __init__(self, items: Iterable[Item]) -> None:
        self._items = tuple(items)
        self._by_id: dict[str, Item] = {}
        for item in self._items:
            if item.id in self._by_id:
                raise ValidationError("duplicate id", file=item.file, item_id=item.id)
            self._by_id[item.id] = item

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Item]:
        return iter(self._items)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._by_id

    def get(self, item_id: str) -> Item:
        """The item with this id; KeyError when there is none."""
        return self._by_id[item_id]

    def items(
        self,
        category: Category | str | None = None,
        difficulty: Difficulty | str | None = None,
        task_types: Iterable[str] | None = None,
    ) -> list[Item]:
        """Items of a category and tier (any when None) whose task type is one of
        ``task_types`` (what an agent offers; any when None), in bank order."""
        wanted = None if task_types is None else set(task_types)
        return [
            item
            for item in self._items
            if (category is None or item.category == category)
            and (difficulty is None or item.difficulty == difficulty)
            and (wanted is None or item.task_type in wanted)
        ]

    def task_types(self) -> set[str]:
        """The task types the bank's items are sent as."""
        return {item.task_type for item in self._items}

    def coverage(self) -> dict[Cell, dict[str, int]]:
        """``{(category, difficulty): {task_type: count}}`` for every cell, empty ones
        included, in category and tier order."""
        cells: dict[Cell, dict[str, int]] = {(c, d): {} for c in Category for d in TIERS}
        for item in self._items:
            counts = cells[(item.category, item.difficulty)]
            counts[item.task_type] = counts.get(item.task_type, 0) + 1
        return cells


# -- loading -------------------------------------------------------------------------------


def load_bank(directory: Path | str | None = None) -> Bank:
    """Every item of every ``*.json`` file in ``directory`` (the shipped ``bank/`` when
    None), validated; ValidationError naming the file and item otherwise."""
    root: Traversable = (
        resources.files("imperium.services.custody") / "bank"
        if directory is None
        else Path(directory)
    )
    if not root.is_dir():
        raise ValidationError(f"the bank directory {root} does not exist")
    files = sorted((f for f in root.iterdir() if f.name.endswith(".json")), key=lambda f: f.name)
    if not files:
        raise ValidationError(f"no bank files (*.json) in {root}")
    items: list[Item] = []
    seen: dict[str, str] = {}
    for file in files:
        for item in _load_file(file.name, file.read_text(encoding="utf-8")):
            if item.id in seen:
                raise ValidationError(
                    f"duplicate id (also in {seen[item.id]})", file=file.name, item_id=item.id
                )
            seen[item.id] = file.name
            items.append(item)
    return Bank(items)


@functools.cache
def default_bank() -> Bank:
    """The shipped bank, loaded once."""
    return load_bank()


def _load_file(name: str, text: str) -> list[Item]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ValidationError(f"not valid JSON: {exc}", file=name) from None
    if not isinstance(data, list):
        raise ValidationError("a bank file must hold a JSON list of items", file=name)
    return [parse_item(raw, file=name, position=n) for n, raw in enumerate(data)]


def parse_item(raw: Any, *, file: str = "", position: int = 0) -> Item:
    """One validated item from its JSON object."""
    if not isinstance(raw, Mapping):
        raise ValidationError(f"item #{position} is not an object", file=file)
    item_id = raw.get("id")
    if not isinstance(item_id, str) or not _ID.match(item_id):
        raise ValidationError(
            f"item #{position}: id must be 2-80 characters of a-z, 0-9 and '-', not {item_id!r}",
            file=file,
        )

    def fail(message: str) -> ValidationError:
        return ValidationError(message, file=file, item_id=item_id)

    missing = sorted(REQUIRED_KEYS - set(raw))
    if missing:
        raise fail(f"missing {', '.join(missing)}")
    unknown = sorted(set(raw) - ITEM_KEYS)
    if unknown:
        raise fail(f"unknown keys {unknown}")
    version = raw["version"]
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise fail(f"version must be a whole number >= 1, not {version!r}")
    try:
        category = Category(raw["category"])
    except ValueError:
        raise fail(f"unknown category {raw['category']!r}; known: {', '.join(Category)}") from None
    try:
        difficulty = Difficulty(raw["difficulty"])
    except ValueError:
        raise fail(
            f"unknown difficulty {raw['difficulty']!r}; known: {', '.join(Difficulty)}"
        ) from None
    task_type = raw["task_type"]
    if not isinstance(task_type, str) or not _TASK_TYPE.match(task_type):
        raise fail(f"task_type must be a task type name, not {task_type!r}")
    payload = raw["payload"]
    if not isinstance(payload, Mapping):
        raise fail("payload must be an object")
    prompt = raw["prompt"]
    if not isinstance(prompt, str) or not prompt.strip():
        raise fail("prompt must be a non-empty string")
    raw_checks = raw["checks"]
    if not isinstance(raw_checks, list) or not raw_checks:
        raise fail("checks must be a non-empty list")
    try:
        checks = [parse_check(check, where=f"check #{n}") for n, check in enumerate(raw_checks)]
    except ValueError as exc:
        raise fail(str(exc)) from None
    if task_type == ANSWER:
        _validate_answer_payload(payload, checks, fail)
    threshold = raw.get("threshold", DEFAULT_THRESHOLDS[difficulty])
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        raise fail(f"threshold must be a number in (0, 1], not {threshold!r}")
    if not 0 < threshold <= 1:
        raise fail(f"threshold must be in (0, 1], not {threshold!r}")
    return Item(
        id=item_id,
        version=version,
        category=category,
        difficulty=difficulty,
        task_type=task_type,
        payload=dict(payload),
        prompt=prompt.strip(),
        checks=tuple(checks),
        threshold=float(threshold),
        reference=raw.get("reference"),
        file=file,
    )


def _validate_answer_payload(
    payload: Mapping[str, Any], checks: list[Check], fail: Callable[[str], ValidationError]
) -> None:
    unknown = sorted(set(payload) - ANSWER_PAYLOAD_KEYS)
    if unknown:
        raise fail(f"an answer payload holds question and format only, not {unknown}")
    question = payload.get("question")
    if not isinstance(question, str) or not question.strip():
        raise fail("an answer payload needs a question (a non-empty string)")
    answer_format = payload.get("format")
    if answer_format not in FORMATS:
        raise fail(f"answer format must be one of {', '.join(FORMATS)}, not {answer_format!r}")
    code_checks = [c.kind for c in iter_checks(checks) if c.kind in CODE_KINDS]
    if code_checks and answer_format != "python":
        raise fail(f"{code_checks[0]} checks need the answer format python")
