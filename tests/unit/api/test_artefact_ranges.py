"""The Range header of a download read from a task row (results made before the artefact
store): one byte span, as inclusive (start, end); a number too long to be a byte offset
sends the whole body rather than failing (Python refuses int() beyond 4,300 digits)."""

from __future__ import annotations

import pytest

from imperium.interfaces.api.routes.artefacts import _span


@pytest.mark.parametrize(
    ("header", "span"),
    [
        ("bytes=0-9", (0, 9)),
        ("bytes=5-", (5, 99)),
        ("bytes=-10", (90, 99)),
        ("bytes=0-1000", (0, 99)),
        ("bytes=100-", (-1, -1)),
        ("bytes=7-3", (-1, -1)),
        ("bytes=-", None),
        ("items=0-9", None),
        ("bytes=" + "9" * 5000 + "-", None),
        ("bytes=0-" + "9" * 5000, None),
        ("bytes=0-" + "9" * 18, (0, 99)),
    ],
)
def test_spans(header: str, span: tuple[int, int] | None) -> None:
    assert _span(header, 100) == span
