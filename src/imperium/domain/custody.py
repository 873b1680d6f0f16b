"""The Custody Protocol's rules: difficulty tiers, XP, levels, level-up and proposal
eligibility (the seed's rules, SEED-API.md). Pure functions over an agent's record; the
harness that runs and grades tests is ``services/custody``.

- difficulty from level: ≥50 legendary, ≥40 master, ≥30 expert, ≥20 advanced,
  ≥10 intermediate, else basic; time limits 300/600/900/1200/1800/3600 s per tier;
- a pass earns 50 XP, a fail 1 XP; level = XP // 100 + 1, applied after 3 consecutive
  passes when the level-up rules below hold (so a level is earned by a streak and a good
  pass rate, never by piling up failed attempts);
- level-up eligibility: at least 3 of the last 5 tests passed, pass rate ≥ 0.8, at most 2
  consecutive failures, XP ≥ 100;
- proposal eligibility: level 1 none; level 2 needs ≥ 1 consecutive success; level 3 ≥ 3
  and pass rate ≥ 0.7; levels 4-10 ≥ min(level + 1, 10) consecutive and pass rate
  ≥ 0.8 + 0.02·(level - 4); level 11+ ≥ 15 consecutive and pass rate ≥ 0.95.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum


class Category(StrEnum):
    KNOWLEDGE_VERIFICATION = "knowledge_verification"
    CODE_QUALITY = "code_quality"
    SECURITY_AWARENESS = "security_awareness"
    PERFORMANCE_OPTIMIZATION = "performance_optimization"
    INNOVATION_CAPABILITY = "innovation_capability"
    SELF_IMPROVEMENT = "self_improvement"
    CROSS_AI_COLLABORATION = "cross_ai_collaboration"
    EXPERIMENTAL_VALIDATION = "experimental_validation"


class Difficulty(StrEnum):
    BASIC = "basic"
    INTERMEDIATE = "intermediate"
    ADVANCED = "advanced"
    EXPERT = "expert"
    MASTER = "master"
    LEGENDARY = "legendary"


TIERS = tuple(Difficulty)
TIME_LIMITS = dict(zip(TIERS, (300.0, 600.0, 900.0, 1200.0, 1800.0, 3600.0), strict=True))
PASS_XP = 50
FAIL_XP = 1
XP_PER_LEVEL = 100
STREAK_FOR_LEVEL = 3
RECENT = 5


def difficulty_for(level: int) -> Difficulty:
    for threshold, tier in (
        (50, Difficulty.LEGENDARY),
        (40, Difficulty.MASTER),
        (30, Difficulty.EXPERT),
        (20, Difficulty.ADVANCED),
        (10, Difficulty.INTERMEDIATE),
    ):
        if level >= threshold:
            return tier
    return Difficulty.BASIC


def level_for_xp(xp: int) -> int:
    return xp // XP_PER_LEVEL + 1


@dataclass(frozen=True, slots=True)
class CustodyRecord:
    """An agent's custody standing: what ``custody_state`` stores."""

    agent_id: str
    xp: int = 0
    level: int = 1
    tests: int = 0
    passed: int = 0
    consecutive_successes: int = 0
    consecutive_failures: int = 0
    recent: tuple[bool, ...] = ()
    """Outcomes of the last five tests, oldest first."""
    last_test_at: float | None = None

    @property
    def failed(self) -> int:
        return self.tests - self.passed

    @property
    def pass_rate(self) -> float:
        return self.passed / self.tests if self.tests else 0.0

    @property
    def difficulty(self) -> Difficulty:
        return difficulty_for(self.level)


def record_result(record: CustodyRecord, passed: bool, at: float) -> CustodyRecord:
    """The record after one graded test: XP, streaks, and the level once earned."""
    xp = record.xp + (PASS_XP if passed else FAIL_XP)
    successes = record.consecutive_successes + 1 if passed else 0
    failures = 0 if passed else record.consecutive_failures + 1
    after = replace(
        record,
        xp=xp,
        tests=record.tests + 1,
        passed=record.passed + passed,
        consecutive_successes=successes,
        consecutive_failures=failures,
        recent=(*record.recent, passed)[-RECENT:],
        last_test_at=at,
    )
    if successes >= STREAK_FOR_LEVEL and can_level_up(after):
        # a level is earned by a streak *and* the level-up rules (pass rate >= 0.8 among
        # them): XP from failures alone must not buy levels
        after = replace(after, level=max(record.level, level_for_xp(xp)))
    return after


def can_level_up(record: CustodyRecord) -> bool:
    """The seed's level-up eligibility."""
    return (
        sum(record.recent) >= 3
        and record.pass_rate >= 0.8
        and record.consecutive_failures <= 2
        and record.xp >= XP_PER_LEVEL
    )


def proposal_requirement(level: int) -> tuple[int, float] | None:
    """(consecutive successes, pass rate) a level needs to submit proposals; None when
    the level may not submit at all (level 1)."""
    if level <= 1:
        return None
    if level == 2:
        return 1, 0.0
    if level == 3:
        return 3, 0.7
    if level <= 10:
        return min(level + 1, 10), 0.8 + 0.02 * (level - 4)
    return 15, 0.95


def can_create_proposals(record: CustodyRecord) -> bool:
    need = proposal_requirement(record.level)
    if need is None:
        return False
    streak, rate = need
    return record.consecutive_successes >= streak and record.pass_rate >= rate - 1e-12


def eligibility_reason(record: CustodyRecord) -> str:
    """Why an agent may or may not submit proposals, in words."""
    need = proposal_requirement(record.level)
    if need is None:
        return (
            f"level {record.level}: proposals need level 2 (earned with "
            f"{XP_PER_LEVEL} XP and {STREAK_FOR_LEVEL} consecutive passed custody tests)"
        )
    streak, rate = need
    if can_create_proposals(record):
        return f"level {record.level}: eligible"
    return (
        f"level {record.level} needs {streak} consecutive passed tests (has "
        f"{record.consecutive_successes}) and a pass rate of at least {rate:.0%} (has "
        f"{record.pass_rate:.0%})"
    )


def replay(agent_id: str, outcomes: Sequence[tuple[bool, float]]) -> CustodyRecord:
    """The record that a sequence of (passed, at) results leads to, from scratch."""
    record = CustodyRecord(agent_id)
    for passed, at in outcomes:
        record = record_result(record, passed, at)
    return record


@dataclass(frozen=True, slots=True)
class CustodyResult:
    """One graded custody test: a row of ``custody_results``. Everything needed to
    reproduce and inspect it: the test's id and version, the task that carried it, the
    agent's answer, the score and the grader's own account of each check."""

    result_id: str
    agent_id: str
    test_id: str
    test_version: int
    category: Category
    difficulty: Difficulty
    task_id: str | None
    answer: object
    score: float
    passed: bool
    threshold: float
    grader_output: dict[str, object]
    duration: float
    xp_awarded: int
    created_at: float
