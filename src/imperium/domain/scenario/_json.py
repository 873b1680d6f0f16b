"""Reading decoded JSON values: each reader checks a value's type (and range) and raises
:class:`ValidationError` naming the JSON path at fault and what was found instead."""

from __future__ import annotations

import math
from collections.abc import Mapping

from imperium.domain.errors import ValidationError


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _list(names: object) -> str:
    assert isinstance(names, Mapping | set | frozenset | list | tuple)
    return ", ".join(repr(n) for n in sorted(str(n) for n in names))


def _object(value: object, path: str) -> dict[str, object]:
    if not isinstance(value, dict):
        raise ValidationError(f"{path} must be a JSON object, got {_kind(value)}")
    for key in value:
        if not isinstance(key, str):
            raise ValidationError(f"{path}: keys must be strings, got {key!r}")
    return value


def _entries(
    value: object, path: str, allowed: tuple[str, ...]
) -> list[tuple[str, dict[str, object]]]:
    """The objects of a JSON list, each with its path (``path[i]``), keys checked."""
    if not isinstance(value, list):
        raise ValidationError(f"{path} must be a list of objects, got {_kind(value)}")
    entries = []
    for i, raw in enumerate(value):
        entry_path = f"{path}[{i}]"
        body = _object(raw, entry_path)
        _known(body, allowed, entry_path)
        entries.append((entry_path, body))
    return entries


def _known(body: Mapping[str, object], allowed: tuple[str, ...], path: str) -> None:
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise ValidationError(
            f"{path}: unknown key {unknown[0]!r}; allowed keys are {', '.join(allowed)}"
        )


def _string(value: object, path: str) -> str:
    if not isinstance(value, str):
        raise ValidationError(f"{path} must be a string, got {_kind(value)}")
    return value


def _strings(value: object, path: str) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValidationError(f"{path} must be a list of non-empty strings, got {_kind(value)}")
    return frozenset(value)


def _number(value: object, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(f"{path} must be a number, got {_kind(value)}")
    if not math.isfinite(value):
        raise ValidationError(f"{path} must be a finite number, got {value}")
    return float(value)


def _integer(value: object, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ValidationError(f"{path} must be an integer, got {_kind(value)}")
    return value


def _probability(value: object, path: str) -> float:
    p = _number(value, path)
    if not 0.0 <= p <= 1.0:
        raise ValidationError(f"{path} must be a probability in [0, 1], got {p}")
    return p
