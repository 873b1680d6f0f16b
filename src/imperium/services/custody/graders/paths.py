"""The path language that selects what a check looks at in an agent's result.

``$`` is the whole result; then dotted keys, ``[n]`` (an index; negative counts from the
end), ``[*]`` (every element: the path then collects a list, skipping elements that lack
the rest of the path) and ``[key=value]`` (the first element whose ``key`` reads
``value``), e.g. ``findings[*].rule``, ``tests.passed``,
``items[name=checkout].baseline.ratio``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from imperium.services.custody.graders.values import as_text, type_name


class PathError(LookupError):
    """A path that does not exist in the value (or is not a path at all)."""


@dataclass(frozen=True, slots=True)
class Step:
    """One step of a path: a key, an index, every element (``all``) or the first element
    whose ``key`` reads ``value`` (``match``)."""

    kind: str  # "key", "index", "all", "match"
    key: str = ""
    index: int = 0
    value: str = ""

    def __str__(self) -> str:
        if self.kind == "key":
            return f".{self.key}"
        if self.kind == "index":
            return f"[{self.index}]"
        if self.kind == "all":
            return "[*]"
        return f"[{self.key}={self.value}]"


_STEP = re.compile(
    r"(?P<dot>\.)?(?P<key>[A-Za-z_][\w-]*)"
    r"|\[(?:(?P<all>\*)|(?P<index>-?\d+)|(?P<mkey>[A-Za-z_][\w-]*)=(?P<mvalue>[^\]]*))\]"
)


def parse_path(path: str) -> tuple[Step, ...]:
    """The steps of ``path``; PathError when it is not one."""
    if not isinstance(path, str):
        raise PathError(f"a path must be a string, not {type(path).__name__}")
    text = path.strip()
    if text == "$":
        return ()
    text = text[1:] if text.startswith("$") else text
    if text.startswith("."):
        text = text[1:]
    if not text:
        raise PathError(f"empty path {path!r}")
    steps: list[Step] = []
    position = 0
    while position < len(text):
        match = _STEP.match(text, position)
        dotted = match is not None and match["dot"] is not None
        if match is None or (dotted and not steps) or (match["key"] and steps and not dotted):
            raise PathError(f"bad path {path!r} at {text[position:]!r}")
        steps.append(_step_of(match))
        position = match.end()
    return tuple(steps)


def _step_of(match: re.Match[str]) -> Step:
    if match["key"]:
        return Step("key", key=match["key"])
    if match["all"]:
        return Step("all")
    if match["index"] is not None:
        return Step("index", index=int(match["index"]))
    return Step("match", key=match["mkey"], value=match["mvalue"])


def resolve(value: Any, path: str) -> Any:
    """What ``path`` selects in ``value`` (a list when it holds ``[*]``); PathError when
    it selects nothing."""
    current: list[Any] = [value]
    many = False
    where = "$"
    for step in parse_path(path):
        found: list[Any] = []
        for item in current:
            try:
                found.extend(_take(item, step))
            except PathError as exc:
                if not many:
                    raise PathError(f"path {path!r}: at {where}, {exc}") from None
        current, many = found, many or step.kind == "all"
        where += str(step)
    return current if many else current[0]


def _take(value: Any, step: Step) -> list[Any]:
    if step.kind == "key":
        return [_key(value, step.key)]
    if not isinstance(value, list | tuple):
        raise PathError(f"{step} needs a list, the value is {type_name(value)}")
    if step.kind == "all":
        return list(value)
    if step.kind == "index":
        if not -len(value) <= step.index < len(value):
            raise PathError(f"no index {step.index} in a list of {len(value)}")
        return [value[step.index]]
    for element in value:
        if isinstance(element, Mapping) and as_text(element.get(step.key)) == step.value:
            return [element]
    raise PathError(f"no element with {step.key} = {step.value!r} among {len(value)}")


def _key(value: Any, key: str) -> Any:
    if not isinstance(value, Mapping):
        raise PathError(f"no key {key!r}: the value is {type_name(value)}, not an object")
    if key not in value:
        raise PathError(f"no key {key!r} (keys: {_keys(value)})")
    return value[key]


def _keys(value: Mapping[Any, Any]) -> str:
    keys = sorted(map(str, value))
    return ", ".join(keys[:12]) + (", ..." if len(keys) > 12 else "") if keys else "none"
