"""Task and workflow input as users write it (workflow files now, API bodies later),
validated with Pydantic and turned into domain specs."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator
from pydantic import ValidationError as PydanticValidationError

from imperium.domain.errors import ValidationError
from imperium.domain.specs import MAX_ATTEMPTS_LIMIT, TaskSpec, WorkflowSpec
from imperium.domain.states import PriorityLevel

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


_EARLIEST = dt.datetime(1, 1, 1, tzinfo=dt.UTC).timestamp()
_LATEST = dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC).timestamp()


def parse_deadline(text: str | float, now: float) -> float:
    """Epoch seconds (a number), an ISO-8601 time (local time if it has no offset), or
    ``+N`` with an optional unit s/m/h/d, counted from ``now``. The time must fall in the
    years 1 to 9999 (so not NaN or infinite). Raises ValueError with what was expected."""
    if not isinstance(text, str):
        return _in_range(float(text), repr(text))
    if text.startswith("+"):
        unit = text[-1] if text[-1] in _UNITS else "s"
        number = text[1:-1] if text[-1] in _UNITS else text[1:]
        try:
            seconds = now + float(number) * _UNITS[unit]
        except ValueError:
            raise ValueError(f"deadline '{text}' must look like +30s, +5m, +2h") from None
        return _in_range(seconds, f"'{text}'")
    try:
        parsed = dt.datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            parsed = parsed.astimezone()
        return parsed.timestamp()
    except (ValueError, OverflowError):
        raise ValueError(
            f"deadline '{text}' is not an ISO time like 2026-12-01T12:00:00Z or +5m"
        ) from None


def _in_range(seconds: float, given: str) -> float:
    if not _EARLIEST <= seconds <= _LATEST:  # NaN fails every comparison
        raise ValueError(
            f"deadline {given} is not a time between the years 1 and 9999; give epoch "
            "seconds, an ISO time like 2026-12-01T12:00:00Z, or +30s, +5m, +2h"
        )
    return seconds


def priority_value(value: str) -> str:
    """A priority as users write it, as stored; ValueError (for a 422) naming the choices."""
    try:
        return PriorityLevel.parse(value).value
    except ValueError:
        names = ", ".join(p.value for p in PriorityLevel)
        raise ValueError(f"must be one of {names} (or medium)") from None


class TaskIn(BaseModel):
    """One task. ``deadline``: epoch seconds, an ISO time, or +30s/+5m/+2h."""

    model_config = ConfigDict(extra="forbid")

    type: str = Field(min_length=1, max_length=200)
    name: str | None = Field(default=None, min_length=1, max_length=200)
    payload: Any = None
    capabilities: list[str] = Field(default_factory=list, max_length=1000)
    priority: str = "normal"
    complexity: float = Field(default=1.0, ge=0, allow_inf_nan=False)
    deadline: float | str | None = None
    timeout: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    max_attempts: StrictInt = Field(default=3, ge=1, le=MAX_ATTEMPTS_LIMIT)
    resources: dict[str, float] = Field(default_factory=dict)
    agent: str | None = Field(default=None, min_length=1, max_length=100)
    depends_on: list[str] = Field(default_factory=list, max_length=1000)
    estimated_duration: float | None = Field(default=None, ge=0, allow_inf_nan=False)

    @field_validator("priority")
    @classmethod
    def _known_priority(cls, value: str) -> str:
        return priority_value(value)

    @field_validator("resources")
    @classmethod
    def _finite_resources(cls, value: dict[str, float]) -> dict[str, float]:
        for name, amount in value.items():
            if not math.isfinite(amount) or amount < 0:
                raise ValueError(f"resource '{name}' must be a finite number >= 0")
        return value

    def to_spec(self, now: float) -> TaskSpec:
        deadline = None if self.deadline is None else parse_deadline(self.deadline, now)
        return TaskSpec(
            type=self.type,
            payload=self.payload,
            capabilities=tuple(self.capabilities),
            priority=PriorityLevel(self.priority),
            complexity=self.complexity,
            deadline=deadline,
            timeout=self.timeout,
            max_attempts=self.max_attempts,
            resources=self.resources,
            pinned_agent=self.agent,
            depends_on=tuple(self.depends_on),
            name=self.name,
            estimated_duration=self.estimated_duration,
        )


class WorkflowIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=200)
    tasks: list[TaskIn] = Field(min_length=1, max_length=10_000)

    def to_spec(self, now: float) -> WorkflowSpec:
        return WorkflowSpec(tuple(t.to_spec(now) for t in self.tasks), self.name)


def describe(exc: PydanticValidationError) -> str:
    """Pydantic's errors as one line a user can act on: where, and what is wrong."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "input"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


def parse_workflow(data: Any, now: float) -> WorkflowSpec:
    """Validate a decoded workflow document; raises the domain ValidationError."""
    try:
        model = WorkflowIn.model_validate(data)
        return model.to_spec(now)
    except PydanticValidationError as exc:
        raise ValidationError(f"workflow is invalid: {describe(exc)}") from None
    except ValueError as exc:
        raise ValidationError(f"workflow is invalid: {exc}") from None
