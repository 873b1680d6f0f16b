"""What evaluating one check gives."""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Outcome:
    """One check's verdict: ``ok``, the value it looked at, and why it failed."""

    ok: bool
    actual: Any = None
    detail: str | None = None
    _: KW_ONLY
    score: float | None = None  # None: 1.0 when ok, else 0.0
    evaluated: bool = True  # False: the value was missing or of the wrong type

    @property
    def points(self) -> float:
        if self.score is not None:
            return self.score
        return 1.0 if self.ok else 0.0


def unevaluated(actual: Any, detail: str) -> Outcome:
    """A check that could not look at the value (missing, or of the wrong type)."""
    return Outcome(False, actual, detail, evaluated=False)
