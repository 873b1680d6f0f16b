"""Seed tasks ranked by the engine's priority score (``domain/priority.py``).

How a seed task's fields become the score's inputs (``PriorityFeatures``):

==========================  ===============================================================
seed field                  score input
==========================  ===============================================================
``priority``                level: a name (critical, high, normal or medium, low,
                            background) or a number 1 (critical) .. 5 (background)
``deadline``                deadline (epoch seconds; ISO times and +5m are converted by
                            the API before they get here)
``created_at``              created_at, for ageing; a task without one is new (age 0)
``dependencies``            dependents: a task gets one point per other task of the same
                            request that lists its id (the engine counts dependents, not
                            dependencies: work others wait on goes first)
``estimated_duration``      estimated_duration in seconds
``resources``               cpu, gpu, memory (MB) -> memory_mb
``complexity``              not an input of the engine's score, so it changes nothing
==========================  ===============================================================
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from imperium.domain.errors import ValidationError
from imperium.domain.priority import (
    AGE_POINTS_PER_SECOND,
    LEVEL_POINTS,
    MAX_DEPENDENT_POINTS,
    PriorityFeatures,
    duration_points,
    level_for_score,
    resource_points,
    score_and_key,
    urgency_points,
)
from imperium.domain.states import PriorityLevel

PRIORITY_NUMBERS: dict[int, PriorityLevel] = {
    1: PriorityLevel.CRITICAL,
    2: PriorityLevel.HIGH,
    3: PriorityLevel.NORMAL,
    4: PriorityLevel.LOW,
    5: PriorityLevel.BACKGROUND,
}
_LEVEL_NAMES = "critical, high, normal (or medium), low, background"


def parse_priority(value: str | int) -> PriorityLevel:
    """A level from its name or its number (1 = critical .. 5 = background)."""
    if isinstance(value, bool):
        raise ValidationError(
            f"priority must be a level name or number, not {value}; use one of "
            f"{_LEVEL_NAMES}, or a number 1 (critical) to 5 (background)"
        )
    if isinstance(value, int):
        level = PRIORITY_NUMBERS.get(value)
        if level is None:
            raise ValidationError(
                f"priority {value} is not a level number; use 1 (critical), 2 (high), "
                f"3 (normal), 4 (low) or 5 (background), or a name: {_LEVEL_NAMES}"
            )
        return level
    try:
        return PriorityLevel.parse(value)
    except ValueError:
        raise ValidationError(
            f"priority '{value}' is unknown; use one of {_LEVEL_NAMES}, or a number "
            "1 (critical) to 5 (background)"
        ) from None


@dataclass(frozen=True, slots=True)
class SeedTask:
    """The score-relevant fields of one seed task, already validated and converted."""

    task_id: str | None = None
    level: PriorityLevel = PriorityLevel.NORMAL
    created_at: float | None = None
    deadline: float | None = None
    estimated_duration: float | None = None
    cpu: float = 0.0
    memory_mb: float = 0.0
    gpu: float = 0.0
    dependencies: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Ranked:
    """One task's place: ``index`` into the input, its 0-100 score and level, and the
    points behind the score (before clamping)."""

    index: int
    score: float
    level: PriorityLevel
    points: dict[str, float]


def dependents_within(tasks: Sequence[SeedTask]) -> list[int]:
    """For each task, how many other tasks of ``tasks`` list its id as a dependency."""
    counts: dict[str, int] = {}
    for task in tasks:
        for dep in set(task.dependencies):
            if dep != task.task_id:
                counts[dep] = counts.get(dep, 0) + 1
    return [counts.get(t.task_id, 0) if t.task_id is not None else 0 for t in tasks]


def features_of(task: SeedTask, dependents: int, now: float) -> PriorityFeatures:
    return PriorityFeatures(
        level=task.level,
        created_at=now if task.created_at is None else task.created_at,
        deadline=task.deadline,
        dependents=dependents,
        estimated_duration=task.estimated_duration,
        cpu=task.cpu,
        gpu=task.gpu,
        memory_mb=task.memory_mb,
    )


def points(f: PriorityFeatures, now: float) -> dict[str, float]:
    """The summands of ``raw_score`` by name, as the module docstring of
    ``domain/priority.py`` lists them."""
    return {
        "level": LEVEL_POINTS[f.level],
        "deadline_urgency": urgency_points(f.deadline, now),
        "age": AGE_POINTS_PER_SECOND * max(0.0, now - f.created_at),
        "dependents": min(MAX_DEPENDENT_POINTS, float(max(0, f.dependents))),
        "estimated_duration": duration_points(f.estimated_duration),
        "resources": resource_points(f.cpu, f.gpu, f.memory_mb),
    }


def rank(tasks: Sequence[SeedTask], now: float) -> list[Ranked]:
    """Highest first, in the order the engine would dispatch them: by its ordering key
    (the unclamped score), ties in input order (the engine's ties are FIFO)."""
    dependents = dependents_within(tasks)
    keyed = []
    for index, task in enumerate(tasks):
        f = features_of(task, dependents[index], now)
        score, key = score_and_key(f, now)
        keyed.append((key, index, Ranked(index, score, level_for_score(score), points(f, now))))
    keyed.sort(key=lambda item: (-item[0], item[1]))
    return [item[2] for item in keyed]
