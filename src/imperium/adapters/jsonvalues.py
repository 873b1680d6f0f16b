"""Checking that a value can be stored as JSON before it reaches a group commit (one bad
value would otherwise fail a whole batch)."""

from __future__ import annotations

import orjson


def json_problem(value: object) -> str | None:
    """None if ``value`` serialises to JSON, else what is wrong with it."""
    try:
        orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    except TypeError as exc:
        return str(exc)
    return None
