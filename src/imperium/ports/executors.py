"""Executors run attempts of tasks and report their results."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from imperium.domain.models import JSON, AgentSpec, AttemptResult


@dataclass(frozen=True, slots=True)
class Attempt:
    """One attempt handed to an executor."""

    task_id: str
    type: str
    payload: JSON
    attempt: int
    token: int
    agent_id: str
    complexity: float
    deadline: float | None
    resources: dict[str, float]


class AttemptReporter(Protocol):
    def __call__(self, task_id: str, token: int, result: AttemptResult) -> None: ...


class Executor(Protocol):
    """Runs attempts on in-process agents and reports each outcome exactly once."""

    def prepare(self, spec: AgentSpec) -> None:
        """Load the agent's implementation; raises AgentLoadError if it cannot."""
        ...

    def update(self, spec: AgentSpec) -> None:
        """The agent changed in what needs no reload (e.g. ``max_concurrency``)."""
        ...

    def reloadable(self) -> list[str]:
        """Agents whose load failed for a reason gone since (e.g. Ray connected): the
        scheduler loads them again. Each is named once."""
        ...

    def forget(self, agent_id: str) -> None: ...

    def start(self, attempt: Attempt, report: AttemptReporter) -> None: ...

    def cancel(self, task_id: str) -> None:
        """Stop a running attempt; it reports nothing afterwards."""
        ...

    def running(self) -> int: ...

    def unplaceable(self, agent_id: str, resources: Mapping[str, float]) -> str | None:
        """Why the place ``agent_id`` runs (e.g. a Ray cluster) can never give an attempt
        ``resources``; None when it can, or when the agent's own offer is all that counts."""
        ...

    def capacity_changed(self) -> bool:
        """Whether what the executor can place changed since last asked (e.g. a node
        joined or left); cheap, called at every scheduler poll."""
        ...

    async def close(self) -> None: ...
