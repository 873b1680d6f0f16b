"""Autoscaling decisions for one agent's pool (pure: no clock, no I/O).

An agent's pool is its ``max_concurrency``: the attempts it may run at once (in-process
slots now; Ray actors for agents that run on Ray). An agent is autoscaled when its config
has an ``autoscale`` object::

    {"autoscale": {"min": 1, "max": 8, "cooldown_seconds": 30,
                   "target_wait_seconds": 5, "idle_seconds": 60}}

``min`` and ``max`` are required; the others default to the values below.

Rules, applied to a :class:`Reading` (what the engine's snapshot shows now):

- **bounds**: a pool outside ``[min, max]`` (the bounds were just configured or changed)
  is brought inside at once, cooldown or not.
- **grow**: tasks it can take are ready but wait for a slot, and either the oldest has
  waited ``target_wait_seconds`` or there are at least as many of them as slots (backlog
  per slot >= 1). The pool grows to ``running + backlog`` (a slot for every waiting task),
  at most ``max``.
- **shrink**: nothing waits and at most half the pool is in use, continuously for
  ``idle_seconds``. The pool halves (never below what runs now, nor below ``min``), and
  the idle period starts again, so a pool steps down to ``min`` over a few periods.
- **cooldown**: after any change (automatic or manual) no automatic change happens for
  ``cooldown_seconds``.

Grow and shrink have disjoint conditions (shrink needs an empty backlog *and* half the
pool free, for a while), so a pool at its boundary holds instead of flapping. Shrinking
only lowers the slots for new attempts: attempts already running go on to the end.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from imperium.domain.errors import ValidationError
from imperium.domain.models import AgentState, Task
from imperium.domain.selection import has_capabilities

DEFAULT_COOLDOWN = 30.0
DEFAULT_TARGET_WAIT = 5.0
GROW_BACKLOG_PER_SLOT = 1.0
IDLE_SHARE = 0.5
"""A pool is underused when at most this share of it runs and nothing waits."""


@dataclass(frozen=True, slots=True)
class Policy:
    minimum: int
    maximum: int
    cooldown: float = DEFAULT_COOLDOWN
    target_wait: float = DEFAULT_TARGET_WAIT
    idle: float = DEFAULT_COOLDOWN
    """Seconds a pool must stay underused before it shrinks."""

    def clamp(self, size: int) -> int:
        return min(self.maximum, max(self.minimum, size))


def policy_of(config: Mapping[str, Any], limit: int) -> Policy | None:
    """The agent's ``autoscale`` config as a policy; None when it has none. Raises
    ValidationError, saying what to fix, when the config is malformed."""
    raw = config.get("autoscale")
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise ValidationError('autoscale must be an object, e.g. {"min": 1, "max": 8}')
    unknown = set(raw) - {"min", "max", "cooldown_seconds", "target_wait_seconds", "idle_seconds"}
    if unknown:
        raise ValidationError(f"unknown autoscale keys: {', '.join(sorted(unknown))}")
    low, high = _integer(raw, "min"), _integer(raw, "max")
    if not 1 <= low <= high <= limit:
        raise ValidationError(f"autoscale needs 1 <= min <= max <= {limit}, got {low}..{high}")
    cooldown = _seconds(raw, "cooldown_seconds", DEFAULT_COOLDOWN)
    return Policy(
        low,
        high,
        cooldown,
        _seconds(raw, "target_wait_seconds", DEFAULT_TARGET_WAIT),
        _seconds(raw, "idle_seconds", cooldown),
    )


def _integer(raw: Mapping[str, Any], key: str) -> int:
    value = raw.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"autoscale.{key} must be a whole number, got {value!r}")
    return value


def _seconds(raw: Mapping[str, Any], key: str, default: float) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < math.inf:
        raise ValidationError(f"autoscale.{key} must be a number of seconds >= 0")
    return float(value)


@dataclass(frozen=True, slots=True)
class Reading:
    """One agent's pool as the scheduler shows it now."""

    size: int
    """max_concurrency"""
    running: int
    backlog: float
    """Ready tasks it can take, each shared among the active agents able to take it."""
    wait: float
    """Seconds the oldest of those has been ready (0 without any)."""


@dataclass(frozen=True, slots=True)
class Memory:
    """What a decision remembers for the next one."""

    last_change: float | None = None
    underused_since: float | None = None
    last_size: int | None = None
    """The pool's size when the last decision was made: a different size now means someone
    resized it by hand (``agents update``, ``PATCH``), which starts a cooldown instead of
    being undone at once."""


@dataclass(frozen=True, slots=True)
class Decision:
    action: str
    """``grow``, ``shrink`` or ``hold``."""
    before: int
    after: int
    reason: str

    @property
    def changes(self) -> bool:
        return self.after != self.before


def decide(policy: Policy, reading: Reading, memory: Memory, now: float) -> tuple[Decision, Memory]:
    """The decision for one pool now, and what to remember for the next one."""
    if memory.last_size is not None and memory.last_size != reading.size:
        memory = Memory(last_change=now)  # resized by hand: leave it be for a cooldown
    decision, memory = _decide(policy, reading, memory, now)
    return decision, replace(memory, last_size=decision.after)


def _decide(
    policy: Policy, reading: Reading, memory: Memory, now: float
) -> tuple[Decision, Memory]:
    size = reading.size
    underused = reading.backlog == 0 and reading.running <= size * IDLE_SHARE
    since = (
        (memory.underused_since if memory.underused_since is not None else now)
        if underused
        else None
    )
    memory = replace(memory, underused_since=since)
    if policy.clamp(size) != size:
        after = policy.clamp(size)
        verb = "grow" if after > size else "shrink"
        reason = f"pool of {size} outside its bounds {policy.minimum}..{policy.maximum}"
        return _change(verb, size, after, reason, memory, now)
    if memory.last_change is not None and now < memory.last_change + policy.cooldown:
        left = memory.last_change + policy.cooldown - now
        return Decision("hold", size, size, f"cooldown: {left:.1f} s left"), memory
    pressure = _pressure(policy, reading)
    if pressure is not None:
        after = policy.clamp(reading.running + math.ceil(reading.backlog))
        if after > size:
            return _change("grow", size, after, pressure, memory, now)
        return Decision("hold", size, size, f"{pressure}, but the pool is at its maximum"), memory
    if since is not None and now - since >= policy.idle:
        after = policy.clamp(max(reading.running, size // 2))
        if after < size:
            reason = (
                f"underused for {now - since:.1f} s (running {reading.running} of {size}, "
                "nothing waiting)"
            )
            return _change("shrink", size, after, reason, replace(memory, underused_since=now), now)
    return Decision("hold", size, size, "within its targets"), memory


def _pressure(policy: Policy, reading: Reading) -> str | None:
    if reading.backlog <= 0:
        return None
    if reading.wait >= policy.target_wait:
        return f"oldest ready task waited {reading.wait:.1f} s (target {policy.target_wait:g} s)"
    if reading.backlog >= GROW_BACKLOG_PER_SLOT * reading.size:
        return f"backlog of {reading.backlog:g} for {reading.size} slot(s)"
    return None


def _change(
    action: str, before: int, after: int, reason: str, memory: Memory, now: float
) -> tuple[Decision, Memory]:
    return Decision(action, before, after, reason), replace(memory, last_change=now)


def readings(agents: Sequence[AgentState], ready: Iterable[Task], now: float) -> dict[str, Reading]:
    """Each accepting agent's reading from the tasks in the ready queues: a task that
    several agents can take counts for each as ``1 / (their number)``."""
    accepting = [a for a in agents if a.accepting]
    backlog = {a.spec.id: 0.0 for a in accepting}
    wait = {a.spec.id: 0.0 for a in accepting}
    for task in ready:
        takers = [a.spec.id for a in accepting if has_capabilities(a, task)]
        waited = max(0.0, now - task.ready_at) if task.ready_at is not None else 0.0
        for agent_id in takers:
            backlog[agent_id] += 1 / len(takers)
            wait[agent_id] = max(wait[agent_id], waited)
    return {
        a.spec.id: Reading(a.spec.max_concurrency, a.running, round(backlog[a.spec.id], 6),
                           wait[a.spec.id])
        for a in accepting
    }  # fmt: skip
