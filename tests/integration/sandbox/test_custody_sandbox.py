"""Custody's grading with the real Sandbox: unit-test checks, every code item of the bank
(its reference passes, a stub fails) and the built-in agents on their items — pytest runs
in bubblewrap for each (about half a minute in all, run in parallel)."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from imperium.adapters.sandbox import run_pytest
from imperium.agents.base import Agent, TaskContext
from imperium.agents.conquest import ConquestAgent
from imperium.agents.guardian import GuardianAgent
from imperium.agents.sandbox import SandboxAgent
from imperium.services.custody.bank import Item
from imperium.services.custody.graders import grade
from tests.unit.custody.test_graders import AGENT_ITEMS, BANK, CODE_KINDS, TESTS, one

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("sandbox_host")]

# pytest's plugins are not needed by the bank's tests; not loading them halves each run.
RUN_TESTS = functools.partial(
    run_pytest, env={"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}, timeout=60, cpu_seconds=60
)
CODE_ANSWERS = [i for i in BANK if i.is_answer and {c.kind for c in i.checks} & CODE_KINDS]
STUB = "def solve(*args):\n    return None\n"
WORKERS = 4


def _map(function: Callable[[Item], Any], items: list[Item]) -> list[Any]:
    with ThreadPoolExecutor(WORKERS) as pool:
        return list(pool.map(function, items))


def test_unit_tests_run_in_the_real_sandbox() -> None:
    check = {"kind": "unit_tests", "tests": TESTS}
    right = one(
        check, "def add(a, b):\n    return a + b\n", answer_format="python", run_tests=RUN_TESTS
    )
    assert (right["ok"], right["score"]) == (True, 1.0)
    wrong = one(
        check, "def add(a, b):\n    return a - b\n", answer_format="python", run_tests=RUN_TESTS
    )
    assert (wrong["ok"], wrong["score"]) == (False, 0.0)
    assert "test_small" in wrong["detail"]
    assert "assert -1 == 3" in wrong["detail"]


def test_code_references_pass_in_the_sandbox_and_a_stub_fails() -> None:
    """Every code item, its reference and a stub answer, run for real (in parallel)."""

    def check(bank_item: Item) -> list[str]:
        problems = []
        graded = grade(bank_item, bank_item.reference, run_tests=RUN_TESTS)
        if not graded.passed:
            problems.append(f"{bank_item.id}: the reference fails: {graded.checks}")
        if grade(bank_item, STUB, run_tests=RUN_TESTS).passed:
            problems.append(f"{bank_item.id}: a stub passes")
        return problems

    assert len(CODE_ANSWERS) >= 40
    assert [p for problems in _map(check, CODE_ANSWERS) for p in problems] == []


BUILT_IN: dict[str, type[Agent]] = {
    "code_review": GuardianAgent,
    "security_scan": GuardianAgent,
    "run_code": SandboxAgent,
    "run_tests": SandboxAgent,
    "log_analysis": ConquestAgent,
    "performance_analysis": ConquestAgent,
}


def test_the_built_in_agents_pass_their_items() -> None:
    items = [i for i in AGENT_ITEMS if i.task_type in BUILT_IN]

    def run(bank_item: Item) -> tuple[str, float, bool]:
        ctx = TaskContext("t-1", bank_item.task_type, bank_item.task_payload(), 1, "agent")
        result = BUILT_IN[bank_item.task_type]().run_blocking(ctx)
        graded = grade(bank_item, json.loads(json.dumps(result)))
        return bank_item.id, graded.score, graded.passed

    outcomes = _map(run, items)
    assert [o for o in outcomes if not o[2]] == []
    assert len(outcomes) >= 30
