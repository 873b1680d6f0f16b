"""Reading the values an agent returns: their kind in words, as text, as a number, and
whether two are equal the way the checks compare them (strings stripped and casefolded
unless asked not to; ``true`` is not ``1``)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

_NUMBER = re.compile(r"[-+]?(?:\d[\d_]*\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_TYPE_NAMES = {
    type(None): "null",
    bool: "a boolean",
    int: "a number",
    float: "a number",
    str: "a string",
    list: "a list",
    tuple: "a list",
    dict: "an object",
}


def type_name(value: Any) -> str:
    """``value``'s JSON kind in words ("a string", "an object", "null", …)."""
    return _TYPE_NAMES.get(type(value), "an object" if isinstance(value, Mapping) else "a value")


def as_text(value: Any) -> str | None:
    """A scalar as the text a path's ``[key=value]`` compares; None for lists and objects."""
    if value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def is_number(value: Any) -> bool:
    """A finite int or float, not a boolean."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def as_number(value: Any) -> float | None:
    """A number, or a string holding exactly one (``"429"``, ``"about 4.71"``,
    ``"1,024"``); None otherwise."""
    if is_number(value):
        return float(value)
    if not isinstance(value, str):
        return None
    found = _NUMBER.findall(value.strip().replace(",", ""))
    if len(found) != 1:
        return None
    try:
        number = float(found[0].replace("_", ""))
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def equal(actual: Any, expected: Any, fold: bool) -> bool:
    """``actual`` equals ``expected``, recursively; strings stripped and casefolded when
    ``fold``; a boolean equals only a boolean."""
    if isinstance(actual, bool) or isinstance(expected, bool):
        return type(actual) is type(expected) and actual == expected
    if isinstance(expected, str):
        return isinstance(actual, str) and _equal_text(actual, expected, fold)
    if isinstance(expected, int | float):
        return isinstance(actual, int | float) and actual == expected
    if isinstance(expected, list | tuple):
        return (
            isinstance(actual, list | tuple)
            and len(actual) == len(expected)
            and all(equal(a, e, fold) for a, e in zip(actual, expected, strict=True))
        )
    if isinstance(expected, Mapping):
        return (
            isinstance(actual, Mapping)
            and set(actual) == set(expected)
            and all(equal(actual[k], v, fold) for k, v in expected.items())
        )
    return bool(actual is None and expected is None)


def _equal_text(actual: str, expected: str, fold: bool) -> bool:
    if fold:
        return actual.strip().casefold() == expected.strip().casefold()
    return actual == expected


def matches(element: Any, expected: Any, fold: bool) -> bool:
    """``element`` equals ``expected``, or holds at least its fields when it is an object."""
    if isinstance(expected, Mapping):
        return isinstance(element, Mapping) and all(
            key in element and matches(element[key], value, fold) for key, value in expected.items()
        )
    return equal(element, expected, fold)
