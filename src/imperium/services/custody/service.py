"""The Custody Protocol harness: pick a test for an agent, send it as a task through the
engine, grade the answer, store the result, update the agent's XP and level.

A test is an item of the bank (``bank/*.json``) whose task type the agent offers (its
capabilities), at the tier its level calls for (``domain/custody.difficulty_for``); when
the bank has nothing at that tier for the agent's task types, the nearest tier below is
used (and reported), else the nearest above. Among candidates, the item this agent was
given least recently (never, first) is chosen, ties at random. The task is pinned to the
agent, has one attempt and the tier's time limit; whatever the agent returns is graded by
the item's checks. A task that fails or times out scores 0.

Every result is stored with the test's id and version, the task id, the answer, the score
and each check's outcome, so an evaluation can be inspected and reproduced
(``imperium custody show RESULT_ID``).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from imperium.domain.custody import (
    FAIL_XP,
    PASS_XP,
    TIERS,
    TIME_LIMITS,
    Category,
    CustodyRecord,
    CustodyResult,
    Difficulty,
    record_result,
)
from imperium.domain.errors import ConflictError, NotFoundError, ValidationError
from imperium.domain.models import Task
from imperium.domain.specs import TaskSpec
from imperium.domain.states import AgentStatus, PriorityLevel, TaskState
from imperium.ports import AgentStore, Clock, CustodyStore, CycleStore
from imperium.services.custody.bank import Bank, Item
from imperium.services.custody.graders import Grade, grade

ANSWER = "answer"
"""The task type of question items: an agent that offers it answers them."""


class Engine(Protocol):
    async def submit(self, spec: TaskSpec) -> Task: ...

    async def wait_for(self, task_id: str) -> Task: ...

    async def cancel(self, task_id: str) -> Task: ...


class CustodyServiceStore(CustodyStore, AgentStore, Protocol):
    """What the harness reads and writes."""


@dataclass(frozen=True, slots=True)
class CustodyRun:
    """One test given: the item, the task, the stored result and the standing after."""

    item: Item
    task: Task | None
    result: CustodyResult
    record: CustodyRecord
    before: CustodyRecord
    grade: Grade | None


class CustodyService:
    def __init__(
        self,
        store: CustodyServiceStore,
        engine: Engine,
        bank: Bank,
        clock: Clock,
        new_id: Callable[[], str],
        *,
        run_tests: Callable[[Mapping[str, str]], Any] | None = None,
        on_level: Callable[[dict[str, int]], None] | None = None,
        rng: random.Random | None = None,
        margin: float = 30.0,
        cycles: CycleStore | None = None,
    ) -> None:
        self.cycles = cycles
        self.store = store
        self.engine = engine
        self.bank = bank
        self.clock = clock
        self.new_id = new_id
        self.run_tests = run_tests
        self.on_level = on_level
        self.rng = rng or random.Random()
        self.margin = margin
        self._locks: dict[str, asyncio.Lock] = {}

    async def record(self, agent_id: str) -> CustodyRecord:
        """The agent's standing (a fresh one if never tested); NotFoundError if unknown."""
        if await self.store.get_agent(agent_id) is None:
            raise NotFoundError(f"no agent with id {agent_id}; see `imperium agents list`")
        return await self.store.get_custody(agent_id) or CustodyRecord(agent_id)

    def choose(
        self,
        record: CustodyRecord,
        task_types: frozenset[str],
        category: Category | None,
        recent: Sequence[CustodyResult],
    ) -> Item:
        """The item to give (see the module docstring)."""
        candidates = self.bank.items(category=category, task_types=task_types)
        if not candidates:
            what = f"in category {category.value} " if category is not None else ""
            offered = ", ".join(sorted(self.bank.task_types())) or "none"
            raise ValidationError(
                f"no custody test {what}fits agent {record.agent_id}: it offers "
                f"{', '.join(sorted(task_types)) or 'no capabilities'}, and the bank has "
                f"tests for task types {offered} (an agent offering '{ANSWER}' answers "
                "question tests)"
            )
        tier = _nearest_tier(record.difficulty, {i.difficulty for i in candidates})
        at_tier = [i for i in candidates if i.difficulty is tier]
        last_given: dict[str, float] = {}
        for result in recent:  # newest first
            last_given.setdefault(result.test_id, result.created_at)
        self.rng.shuffle(at_tier)
        return min(at_tier, key=lambda i: last_given.get(i.id, float("-inf")))

    async def test(self, agent_id: str, category: Category | None = None) -> CustodyRun:
        """Give one test to ``agent_id`` and grade it (waits for the agent's answer)."""
        lock = self._locks.setdefault(agent_id, asyncio.Lock())
        async with lock:
            return await self._test(agent_id, category)

    async def _test(self, agent_id: str, category: Category | None) -> CustodyRun:
        spec = await self.store.get_agent(agent_id)
        if spec is None:
            raise NotFoundError(f"no agent with id {agent_id}; see `imperium agents list`")
        if spec.status is not AgentStatus.ACTIVE:
            raise ValidationError(
                f"agent {agent_id} is {spec.status}; only an active agent can take a test "
                "(a paused one would leave it waiting)"
            )
        before = await self.store.get_custody(agent_id) or CustodyRecord(agent_id)
        recent = await self.store.list_custody_results(agent_id, 200)
        item = self.choose(before, spec.capabilities, category, recent)
        limit = TIME_LIMITS[item.difficulty]
        started = self.clock.now()
        task = await self.engine.submit(
            TaskSpec(
                type=item.task_type,
                payload=item.task_payload(),  # never the reference answer
                pinned_agent=agent_id,
                timeout=limit,
                max_attempts=1,
                priority=PriorityLevel.HIGH,
                name=f"custody {item.id}",
            )
        )
        try:
            async with asyncio.timeout(limit + self.margin):
                task = await self.engine.wait_for(task.id)
        except TimeoutError:  # never started (agent busy or gone): withdraw it, grade 0
            try:
                task = await self.engine.cancel(task.id)
            except ConflictError:  # it ended just now
                task = await self.engine.wait_for(task.id)
        graded: Grade | None = None
        if task.state is TaskState.SUCCEEDED:
            answer: object = task.result
            graded = await asyncio.to_thread(grade, item, task.result, run_tests=self.run_tests)
            score, passed, output = graded.score, graded.passed, graded.as_json()
            doubt = await self._verify(item, task.result, started)
            if doubt is not None and passed:
                score, passed = 0.0, False
                output = {**output, "verification": doubt}
        else:
            answer = None
            score, passed = 0.0, False
            output = {
                "error": "the agent gave no answer",
                "task_state": str(task.state),
                "error_kind": task.error_kind,
                "error_message": task.error_message,
            }
        now = self.clock.now()
        result = CustodyResult(
            result_id=self.new_id(),
            agent_id=agent_id,
            test_id=item.id,
            test_version=item.version,
            category=item.category,
            difficulty=item.difficulty,
            task_id=task.id,
            answer=answer,
            score=round(score, 6),
            passed=passed,
            threshold=item.threshold,
            grader_output=output,
            duration=round(now - started, 6),
            xp_awarded=PASS_XP if passed else FAIL_XP,
            created_at=now,
        )
        while True:  # another process may have recorded a test of this agent meanwhile
            after = record_result(before, passed, now)
            if await self.store.save_custody_result(result, after, before.tests):
                break
            before = await self.store.get_custody(agent_id) or CustodyRecord(agent_id)
        if after.level != before.level and self.on_level is not None:
            self.on_level({agent_id: after.level})
        return CustodyRun(item, task, result, after, before, graded)

    async def _verify(self, item: Item, result: object, started: float) -> str | None:
        """Claims the harness can check itself: a learning cycle said to have completed
        must exist in storage, completed, and have started after the test did."""
        if item.task_type != "learning_cycle" or self.cycles is None:
            return None
        cycle_id = result.get("cycle_id") if isinstance(result, dict) else None
        for cycle in await self.cycles.list_cycles(50):
            if cycle.cycle_id == cycle_id:
                if cycle.status.value == "completed" and cycle.start_time >= started - 1.0:
                    return None
                return f"learning cycle {cycle_id} is {cycle.status.value} or older than the test"
        return f"no learning cycle {cycle_id!r} was recorded: the answer is not backed by data"

    async def levels(self) -> dict[str, int]:
        return {r.agent_id: r.level for r in await self.store.list_custody()}


def _nearest_tier(wanted: Difficulty, available: set[Difficulty]) -> Difficulty:
    index = TIERS.index(wanted)
    for tier in reversed(TIERS[: index + 1]):
        if tier in available:
            return tier
    return next(t for t in TIERS if t in available)
