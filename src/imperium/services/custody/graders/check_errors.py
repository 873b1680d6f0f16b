"""Pydantic's errors about a check, told the way the bank's messages read: where the
check is, which kind, and the one problem to fix first (what the kind lacks, then keys it
does not know, then its path, then its values; an outer check before the one ``not``
wraps)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic_core import ErrorDetails

from imperium.services.custody.graders.values import type_name

_NOT_AN_OBJECT = frozenset({"model_attributes_type", "model_type", "dict_type"})
_NO_KIND = frozenset({"union_tag_invalid", "union_tag_not_found"})
_SHAPE = _NOT_AN_OBJECT | _NO_KIND
_RANKS = {"missing": 1, "extra_forbidden": 2}


@dataclass(frozen=True, slots=True)
class _Problem:
    depth: int  # how many ``not`` checks wrap the one at fault
    rank: int  # which problem the bank reports first (lowest)
    where: str
    kind: str
    key: str
    error: ErrorDetails

    @property
    def order(self) -> tuple[int, int]:
        return (self.depth, self.rank)


def explain(errors: Sequence[ErrorDetails], where: str, kinds: Sequence[str]) -> str:
    """The message for the first of ``errors`` to fix in the check found at ``where``."""
    problems = [_locate(error, where) for error in errors]
    first = min(problems, key=lambda p: p.order)
    keys = sorted({p.key for p in problems if p.order == first.order})
    if first.rank == 0:
        return _shape_message(first, kinds)
    if first.error["type"] == "missing":
        return f"{first.where} ({first.kind}) lacks {', '.join(keys)}"
    if first.error["type"] == "extra_forbidden":
        return f"{first.where} ({first.kind}) has unknown keys {keys}"
    return _value_message(first)


def _locate(error: ErrorDetails, where: str) -> _Problem:
    loc = [str(part) for part in error["loc"]]
    kind = loc.pop(0) if loc else ""
    depth = 0
    while kind == "not" and loc[:1] == ["check"] and (len(loc) > 1 or error["type"] in _SHAPE):
        depth, where = depth + 1, f"{where} (inside not)"
        kind = loc[1] if len(loc) > 1 else ""
        loc = loc[2:]
    if not kind or (not loc and error["type"] in _SHAPE):
        return _Problem(depth, 0, where, kind, "", error)
    rank = _RANKS.get(error["type"], 3 if loc == ["path"] else 4)
    return _Problem(depth, rank, where, kind, ".".join(loc), error)


def _shape_message(problem: _Problem, kinds: Sequence[str]) -> str:
    raw: Any = problem.error["input"]
    if problem.error["type"] in _NO_KIND:
        kind = raw.get("kind") if isinstance(raw, Mapping) else None
        return f"{problem.where}: unknown kind {kind!r}; known: {', '.join(kinds)}"
    return f"{problem.where} must be an object, not {type_name(raw)}"


def _value_message(problem: _Problem) -> str:
    cause = problem.error.get("ctx", {}).get("error")
    if problem.error["type"] == "value_error" and cause is not None:
        return f"{problem.where}: {cause}"
    at = f"{problem.key}: " if problem.key else ""
    return f"{problem.where}: {at}{problem.error['msg'].lower()}"
