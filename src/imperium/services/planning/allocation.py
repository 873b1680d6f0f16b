"""Resource allocation: highest priority first, never beyond capacity.

Tasks are taken in rank order (a higher ``key`` first, ties in input order). A task gets
exactly what it requests when every requested amount fits in what is left; otherwise it is
unallocated, with each resource that was short and by how much, and the next task is
tried (a smaller task further down may still fit: capacity is not left idle because one
large request is ahead of it). Amounts compare with the engine's tolerance of 1e-9, so
0.1 + 0.2 fits in 0.3.

The result is a plan computed from real numbers; nothing is reserved by computing it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

RESOURCES = ("cpu", "memory", "gpu")
TOLERANCE = 1e-9


@dataclass(frozen=True, slots=True)
class Amounts:
    """CPU cores, memory in MB and GPUs."""

    cpu: float = 0.0
    memory: float = 0.0
    gpu: float = 0.0

    def get(self, name: str) -> float:
        value: float = getattr(self, name)
        return value


@dataclass(frozen=True, slots=True)
class Request:
    task_id: str
    wants: Amounts
    key: float
    """The rank: a higher key is served first."""
    score: float
    """The 0-100 priority score shown with the answer."""


@dataclass(frozen=True, slots=True)
class Shortfall:
    resource: str
    requested: float
    available: float

    @property
    def short_by(self) -> float:
        return self.requested - self.available


@dataclass(frozen=True, slots=True)
class NotPlaced:
    request: Request
    shortfalls: tuple[Shortfall, ...]

    @property
    def reason(self) -> str:
        parts = [
            f"needs {_n(s.requested)} {s.resource}, {_n(s.available)} left "
            f"(short by {_n(s.short_by)})"
            for s in self.shortfalls
        ]
        return "; ".join(parts)


@dataclass(frozen=True, slots=True)
class Plan:
    allocations: tuple[Request, ...]
    unallocated: tuple[NotPlaced, ...]
    remaining: Amounts


def rank_order(requests: Sequence[Request]) -> list[Request]:
    return [r for _, r in sorted(enumerate(requests), key=lambda p: (-p[1].key, p[0]))]


def allocate(capacity: Amounts, requests: Sequence[Request]) -> Plan:
    left = {name: capacity.get(name) for name in RESOURCES}
    placed: list[Request] = []
    missed: list[NotPlaced] = []
    for request in rank_order(requests):
        short = tuple(
            Shortfall(name, request.wants.get(name), left[name])
            for name in RESOURCES
            if request.wants.get(name) > left[name] + TOLERANCE
        )
        if short:
            missed.append(NotPlaced(request, short))
            continue
        for name in RESOURCES:  # what the tolerance let through is rounding: left stays >= 0
            left[name] = max(0.0, left[name] - request.wants.get(name))
        placed.append(request)
    remaining = Amounts(*(left[name] for name in RESOURCES))
    return Plan(tuple(placed), tuple(missed), remaining)


def _n(value: float) -> str:
    """A number as people write it: 4 rather than 4.0, at most 6 decimals."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"
