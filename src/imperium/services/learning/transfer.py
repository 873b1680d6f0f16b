"""Export and import of learning data.

The executions are what everything learned derives from, so they are what an export
carries in full and what an import restores; the cycles, insights, model reports and
agents' learning columns travel along for inspection and are recomputed from the
executions by the next learning cycle (``imperium learn``) rather than imported.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from imperium.domain.errors import ValidationError
from imperium.domain.models import Execution
from imperium.domain.states import Outcome

FORMAT = "imperium-learning-export"
VERSION = 1


def execution_to_json(e: Execution) -> dict[str, Any]:
    """Every field, times as epoch seconds (exact, unlike ISO strings)."""
    return {
        "task_id": e.task_id,
        "attempt": e.attempt,
        "agent_id": e.agent_id,
        "task_type": e.task_type,
        "complexity": e.complexity,
        "started_at": e.started_at,
        "finished_at": e.finished_at,
        "outcome": e.outcome.value,
        "lease_token": e.lease_token,
        "error_kind": e.error_kind,
        "error_message": e.error_message,
        "resources": e.resources,
        "tokens": e.tokens,
        "cost": e.cost,
    }


LIMITS = {"task_id": 36, "agent_id": 100, "task_type": 200, "error_kind": 100}
"""Longest text per field: the columns' sizes (PostgreSQL refuses longer values)."""
LATEST = 4_102_444_800.0  # 2100-01-01: a time beyond it is a mistake (ms, not seconds?)
MAX_INT = 2**31 - 1


def _field(row: Mapping[str, Any], name: str, kind: type | tuple[type, ...], where: str) -> Any:
    if name not in row:
        raise ValidationError(f"{where}: '{name}' is missing")
    value = row[name]
    if isinstance(value, bool) or not isinstance(value, kind):
        raise ValidationError(f"{where}.{name}: expected {_kind_name(kind)}, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValidationError(f"{where}.{name}: must be a finite number")
    if isinstance(value, str) and name in LIMITS and not 1 <= len(value) <= LIMITS[name]:
        raise ValidationError(f"{where}.{name}: must be 1 to {LIMITS[name]} characters")
    if isinstance(value, int) and not -MAX_INT <= value <= MAX_INT:
        raise ValidationError(f"{where}.{name}: {value} is out of range")
    return value


def _optional(row: Mapping[str, Any], name: str, kind: type | tuple[type, ...], where: str) -> Any:
    if row.get(name) is None:
        return None
    return _field(row, name, kind, where)


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join("number" if k in (int, float) else k.__name__ for k in kinds)


_NUMBER = (int, float)


def execution_from_json(row: object, where: str) -> Execution:
    """An execution from its export form; a bad field is a ValidationError naming it."""
    if not isinstance(row, Mapping):
        raise ValidationError(f"{where}: expected an object, got {type(row).__name__}")
    outcome_text = _field(row, "outcome", str, where)
    try:
        outcome = Outcome(outcome_text)
    except ValueError:
        known = ", ".join(o.value for o in Outcome)
        raise ValidationError(f"{where}.outcome: '{outcome_text}' is not one of {known}") from None
    started = float(_field(row, "started_at", _NUMBER, where))
    finished = float(_field(row, "finished_at", _NUMBER, where))
    if not 0 <= started <= LATEST or not 0 <= finished <= LATEST:
        raise ValidationError(
            f"{where}: started_at and finished_at must be epoch seconds between 1970 and 2100"
        )
    if finished < started:
        raise ValidationError(f"{where}: finished_at is before started_at")
    resources = row.get("resources") or {}
    if not isinstance(resources, Mapping) or not all(
        isinstance(k, str) and isinstance(v, _NUMBER) and not isinstance(v, bool)
        for k, v in resources.items()
    ):
        raise ValidationError(f"{where}.resources: expected an object of numbers")
    attempt = _field(row, "attempt", int, where)
    if attempt < 1:
        raise ValidationError(f"{where}.attempt: must be at least 1")
    return Execution(
        task_id=_field(row, "task_id", str, where),
        attempt=attempt,
        agent_id=_optional(row, "agent_id", str, where),
        task_type=_field(row, "task_type", str, where),
        complexity=float(_field(row, "complexity", _NUMBER, where)),
        started_at=started,
        finished_at=finished,
        outcome=outcome,
        lease_token=int(_optional(row, "lease_token", int, where) or 0),
        error_kind=_optional(row, "error_kind", str, where),
        error_message=_optional(row, "error_message", str, where),
        resources={k: float(v) for k, v in resources.items()},
        tokens=_optional(row, "tokens", int, where),
        cost=_optional(row, "cost", _NUMBER, where),
    )


def read_export(document: object) -> list[Execution]:
    """The executions of an export document, all checked before any is imported."""
    if not isinstance(document, Mapping) or document.get("format") != FORMAT:
        raise ValidationError(
            f"not an Imperium learning export (expected an object with format '{FORMAT}'); "
            "create one with `imperium export FILE`"
        )
    version = document.get("version")
    if version != VERSION:
        raise ValidationError(
            f"export version {version!r} is not supported; this Imperium reads version {VERSION}"
        )
    rows = document.get("executions")
    if not isinstance(rows, Sequence) or isinstance(rows, str):
        raise ValidationError("'executions' must be a list")
    return [execution_from_json(row, f"executions[{i}]") for i, row in enumerate(rows)]
