"""The input-limit walker: exact boundaries, JSON paths, and properties over any JSON."""

from __future__ import annotations

import json
from typing import Any

import hypothesis
import pytest
from hypothesis import strategies as st

from imperium.interfaces.api.limits import (
    MAX_DEPTH,
    MAX_LIST_ITEMS,
    MAX_OBJECT_KEYS,
    MAX_STRING_CHARS,
    MAX_TASKS_PER_REQUEST,
    Violation,
    check_json_body,
    first_violation,
)


def nested(levels: int) -> Any:
    """``levels`` containers inside each other (1: ``[]``)."""
    value: Any = []
    for level in range(levels - 1):
        value = {"a": value} if level % 2 else [value]
    return value


ALLOWED = [
    "x" * MAX_STRING_CHARS,
    {"k" * MAX_STRING_CHARS: 1},
    [0] * MAX_LIST_ITEMS,
    {str(i): i for i in range(MAX_OBJECT_KEYS)},
    nested(MAX_DEPTH),
    {"tasks": [{"type": "echo"}] * MAX_TASKS_PER_REQUEST},
    {"pending_tasks": [{"id": "t"}] * MAX_TASKS_PER_REQUEST},  # optimize-resources
    {"payload": {"text": "é\u2028\U0001f600", "n": [1.5, -2, True, None, 10**30]}},
    "",
    None,
]


@pytest.mark.parametrize("value", ALLOWED, ids=lambda v: repr(v)[:40])
def test_values_within_the_limits_pass(value: Any) -> None:
    assert first_violation(value) is None


REFUSED = [
    ("x" * (MAX_STRING_CHARS + 1), "$", "is 10001 characters long; the limit is 10000"),
    ({"payload": {"text": "x" * 12_000}}, "$.payload.text", "is 12000 characters long"),
    ({"a": "b\x00c"}, "$.a", "contains a NUL byte"),
    ({"a": {"b\x00": 1}}, "$.a", "has a key with a NUL byte"),
    ({"k" * (MAX_STRING_CHARS + 1): 1}, "$", "has a key 10001 characters long"),
    ({"items": [0] * (MAX_LIST_ITEMS + 1)}, "$.items", "has 1001 items; the limit is 1000"),
    ([{str(i): i for i in range(MAX_OBJECT_KEYS + 1)}], "$[0]", "has 1001 keys"),
    (nested(MAX_DEPTH + 1), "$" + ".a[0]" * 5, "is nested 11 levels deep; the limit is 10"),
    ({"tasks": [{}] * (MAX_TASKS_PER_REQUEST + 1)}, "$.tasks", "has 10001 items"),
    ({"pending_tasks": [{}] * (MAX_TASKS_PER_REQUEST + 1)}, "$.pending_tasks", "has 10001"),
    ({"payload": {"tasks": [0] * (MAX_LIST_ITEMS + 1)}}, "$.payload.tasks", "has 1001 items"),
    ({"a": {"pending_tasks": [0] * (MAX_LIST_ITEMS + 1)}}, "$.a.pending_tasks", "has 1001"),
    ([{"tasks": [0] * (MAX_LIST_ITEMS + 1)}], "$[0].tasks", "the limit is 1000"),
    ({"a b": [0, 1, {"x-y": "\x00"}]}, '$["a b"][2]["x-y"]', "contains a NUL byte"),
    ({"p": ["ok", "x" * 20_000, "\x00"]}, "$.p[1]", "is 20000 characters long"),  # the first
]


@pytest.mark.parametrize(("value", "path", "message"), REFUSED, ids=lambda v: repr(v)[:40])
def test_the_first_value_over_a_limit_is_named_by_its_path(
    value: Any, path: str, message: str
) -> None:
    found = first_violation(value)
    assert found is not None
    assert found.path == path
    assert message in found.message
    assert found.detail == f"{path} {found.message}"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"payload": {"x": NaN}}', Violation("$.payload.x", "must be a finite number, not NaN")),
        (b"[1, Infinity]", Violation("$[1]", "must be a finite number, not Infinity")),
        (b'{"d": -Infinity}', Violation("$.d", "must be a finite number, not -Infinity")),
        # beyond a 64-bit float: the parser makes it infinity, storage null
        (b'{"x": 1e400}', Violation("$.x", "is 1e400, a number beyond the range")),
        (b'{"x": [1.5, -1E400]}', Violation("$.x[1]", "is -1E400, a number beyond the range")),
        (b"1e999999", Violation("$", "is 1e999999, a number beyond the range")),
        (b"[" * 5000 + b"]" * 5000, Violation("$", "is nested too deep to parse")),
        (b"[" * 1000 + b"]" * 1000, Violation("$" + "[0]" * 10, "is nested 11 levels deep")),
    ],
)
def test_json_bodies_without_nan_and_too_deep_ones_are_refused(
    body: bytes, expected: Violation
) -> None:
    found = check_json_body(body)
    assert found is not None
    assert found.path == expected.path
    assert found.message.startswith(expected.message)


@pytest.mark.parametrize(
    "body", [b"", b"{", b"not json", b"\xff\xfe", b'{"a": 1}', b'"\\ud800"', b"[1e308, 1e-400]"]
)
def test_bodies_that_are_not_json_or_within_limits_pass(body: bytes) -> None:
    assert check_json_body(body) is None


# ---------------------------------------------------------------------------- properties
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(blacklist_characters="\x00"), max_size=30)
)
KEYS = st.text(st.characters(blacklist_characters="\x00"), max_size=12)


def within(levels: int) -> st.SearchStrategy[Any]:
    """JSON values with at most ``levels`` nested containers, all small."""
    if levels == 0:
        return SCALARS
    inner = within(levels - 1)
    return SCALARS | st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4)


@hypothesis.given(within(MAX_DEPTH))
def test_small_json_is_never_refused(value: Any) -> None:
    assert first_violation(value) is None
    assert check_json_body(json.dumps(value).encode()) is None


STEP = st.integers(min_value=0, max_value=5) | KEYS


@hypothesis.given(st.lists(STEP, max_size=MAX_DEPTH - 1), st.sampled_from(["\x00", "x" * 10_001]))
def test_a_bad_string_is_found_at_its_path(steps: list[int | str], bad: str) -> None:
    value: Any = bad
    for step in reversed(steps):
        value = [*range(step), value] if isinstance(step, int) else {step: value}
    found = check_json_body(json.dumps(value).encode())
    assert found is not None
    assert found == first_violation(value)
    assert found.path == expected_path(steps)


def expected_path(steps: list[int | str]) -> str:
    path = "$"
    for step in steps:
        if isinstance(step, int):
            path += f"[{step}]"
        elif step.isidentifier() and step.isascii():
            path += f".{step}"
        else:
            path += f"[{json.dumps(step)}]"
    return path
