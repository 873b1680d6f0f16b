"""Showing values in a grade: short enough to store and read, always JSON."""

from __future__ import annotations

import json
import math
from typing import Any

from imperium.services.custody.graders.values import type_name

PREVIEW_CHARS = 500
DETAIL_CHARS = 2000


def cut(text: str, limit: int = DETAIL_CHARS) -> str:
    """``text``, cut to ``limit`` characters (the last one an ellipsis) when longer."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def show(value: Any) -> str:
    """``value`` as JSON text for a message, about 200 characters at most."""
    try:
        text = json.dumps(value, default=str, ensure_ascii=False)
    except (ValueError, TypeError, RecursionError):
        text = f"<{type_name(value)}>"
    return cut(text, 200)


def preview(value: Any) -> Any:
    """``value`` as JSON can store it, cut to about PREVIEW_CHARS."""
    if isinstance(value, str):
        return cut(value, PREVIEW_CHARS)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int) and abs(value) < 2**63:
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    try:
        text = json.dumps(value, default=str, ensure_ascii=False, allow_nan=False)
    except (ValueError, TypeError, RecursionError):
        return f"<{type_name(value)} that cannot be shown>"
    if len(text) <= PREVIEW_CHARS:
        return json.loads(text) if text[:1] in "[{" else text
    return cut(text, PREVIEW_CHARS)
