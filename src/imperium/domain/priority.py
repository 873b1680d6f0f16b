"""The priority score: a pure function from a task's features and the time to 0-100.

Points, added up and clamped to [0, 100]:

=====================  ==================================================================
level                  critical 90, high 70, normal (medium) 40, low 20, background 0
deadline urgency       0-20 by time left: overdue 20, <1 min 16, <5 min 12, <15 min 9,
                       <1 h 6, <4 h 3, <24 h 1, else or none 0 (steps, so it is exact
                       between boundaries and cheap to keep current)
age                    +1 per minute waited since submission (prevents starvation)
dependents             +1 per task waiting on this one, at most 5
estimated duration     shorter first: <=1 s 5, <=10 s 4, <=1 min 3, <=10 min 2, <=1 h 1,
                       longer 0, unknown 2
resources              light first: 5 minus cpu/4 + gpu*2 + memory_mb/8192, at least 0
=====================  ==================================================================

Dispatch orders ready tasks by the same sum *before* clamping, so ageing keeps working
above 100. Everyone ages at the same rate, which makes the order between two tasks
independent of the current time except at urgency boundaries: the scheduler keys its heap
with :func:`ordering_key` and re-keys a task only when :func:`next_urgency_change` passes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from imperium.domain.models import Task
from imperium.domain.states import PriorityLevel

LEVEL_POINTS: Mapping[PriorityLevel, float] = {
    PriorityLevel.CRITICAL: 90.0,
    PriorityLevel.HIGH: 70.0,
    PriorityLevel.NORMAL: 40.0,
    PriorityLevel.LOW: 20.0,
    PriorityLevel.BACKGROUND: 0.0,
}
# (seconds left until the deadline, points) — the first row whose bound is not exceeded wins
URGENCY_STEPS: tuple[tuple[float, float], ...] = (
    (0.0, 20.0),
    (60.0, 16.0),
    (300.0, 12.0),
    (900.0, 9.0),
    (3600.0, 6.0),
    (4 * 3600.0, 3.0),
    (24 * 3600.0, 1.0),
)
AGE_POINTS_PER_SECOND = 1.0 / 60.0
MAX_DEPENDENT_POINTS = 5.0
DURATION_STEPS: tuple[tuple[float, float], ...] = (
    (1.0, 5.0),
    (10.0, 4.0),
    (60.0, 3.0),
    (600.0, 2.0),
    (3600.0, 1.0),
)
UNKNOWN_DURATION_POINTS = 2.0
MAX_RESOURCE_POINTS = 5.0
LEVEL_THRESHOLDS: tuple[tuple[float, PriorityLevel], ...] = (
    (90.0, PriorityLevel.CRITICAL),
    (70.0, PriorityLevel.HIGH),
    (40.0, PriorityLevel.NORMAL),
    (20.0, PriorityLevel.LOW),
)


class PriorityFeatures(NamedTuple):
    """Everything the score depends on apart from the current time (a NamedTuple: one is
    built for every task the scheduler queues)."""

    level: PriorityLevel
    created_at: float
    deadline: float | None = None
    dependents: int = 0
    estimated_duration: float | None = None
    cpu: float = 0.0
    gpu: float = 0.0
    memory_mb: float = 0.0


def urgency_points(deadline: float | None, now: float) -> float:
    if deadline is None:
        return 0.0
    left = deadline - now
    for bound, points in URGENCY_STEPS:
        if left <= bound:
            return points
    return 0.0


def next_urgency_change(deadline: float | None, now: float) -> float | None:
    """The next instant at which :func:`urgency_points` changes, or None if it never will."""
    if deadline is None:
        return None
    upcoming = [deadline - bound for bound, _ in URGENCY_STEPS if deadline - bound > now]
    return min(upcoming) if upcoming else None


def duration_points(estimated: float | None) -> float:
    if estimated is None:
        return UNKNOWN_DURATION_POINTS
    for bound, points in DURATION_STEPS:
        if estimated <= bound:
            return points
    return 0.0


def resource_points(cpu: float, gpu: float, memory_mb: float) -> float:
    if not (cpu or gpu or memory_mb):
        return MAX_RESOURCE_POINTS
    weight = max(0.0, cpu) / 4.0 + max(0.0, gpu) * 2.0 + max(0.0, memory_mb) / 8192.0
    return max(0.0, MAX_RESOURCE_POINTS - weight)


def static_points(f: PriorityFeatures) -> float:
    """The part of the score that does not change with time."""
    return (
        LEVEL_POINTS[f.level]
        + min(MAX_DEPENDENT_POINTS, float(max(0, f.dependents)))
        + duration_points(f.estimated_duration)
        + resource_points(f.cpu, f.gpu, f.memory_mb)
    )


def raw_score(f: PriorityFeatures, now: float) -> float:
    """The unclamped sum; dispatch orders by it."""
    age = max(0.0, now - f.created_at)
    return static_points(f) + urgency_points(f.deadline, now) + AGE_POINTS_PER_SECOND * age


def priority_score(f: PriorityFeatures, now: float) -> float:
    """The 0-100 score shown to users."""
    return min(100.0, max(0.0, raw_score(f, now)))


def ordering_key(f: PriorityFeatures, now: float) -> float:
    """A time-invariant key (until the next urgency change): higher runs first.

    ``raw_score(f, t) - AGE_POINTS_PER_SECOND * t`` for any t with the same urgency step.
    """
    return static_points(f) + urgency_points(f.deadline, now) - AGE_POINTS_PER_SECOND * f.created_at


def score_and_key(f: PriorityFeatures, now: float) -> tuple[float, float]:
    """``(priority_score(f, now), ordering_key(f, now))`` computed together (the scheduler
    needs both for every task it queues)."""
    base = static_points(f) + urgency_points(f.deadline, now)
    age = now - f.created_at
    score = base + AGE_POINTS_PER_SECOND * age if age > 0 else base
    clamped = 100.0 if score > 100.0 else (score if score > 0.0 else 0.0)
    return clamped, base - AGE_POINTS_PER_SECOND * f.created_at


def level_for_score(score: float) -> PriorityLevel:
    """Map a 0-100 score back to a level: >=90 critical, >=70 high, >=40 normal, >=20 low."""
    for bound, level in LEVEL_THRESHOLDS:
        if score >= bound:
            return level
    return PriorityLevel.BACKGROUND


def task_features(task: Task) -> PriorityFeatures:
    """What the score of ``task`` depends on."""
    res = task.resources
    return PriorityFeatures(
        level=task.priority,
        created_at=task.created_at,
        deadline=task.deadline,
        dependents=task.dependents,
        estimated_duration=task.estimated_duration,
        cpu=res.get("cpu", 0.0),
        gpu=res.get("gpu", 0.0),
        memory_mb=res.get("memory_mb", 0.0),
    )
