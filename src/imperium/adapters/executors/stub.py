"""An executor for unit tests of the core: it records attempts and lets the test decide
when and how each one ends."""

from __future__ import annotations

from collections.abc import Mapping

from imperium.domain.models import AgentSpec, AttemptResult
from imperium.domain.states import Outcome
from imperium.ports import Attempt, AttemptReporter


class StubExecutor:
    def __init__(self, unknown_types: frozenset[str] = frozenset()) -> None:
        self.prepared: dict[str, AgentSpec] = {}
        self.started: list[Attempt] = []
        self.cancelled: list[str] = []
        self._running: dict[str, tuple[Attempt, AttemptReporter]] = {}
        self._unknown = unknown_types
        self.closed = False

    def prepare(self, spec: AgentSpec) -> None:
        if spec.type in self._unknown:
            from imperium.domain.errors import AgentLoadError

            raise AgentLoadError(f"unknown agent type '{spec.type}'")
        self.prepared[spec.id] = spec

    def update(self, spec: AgentSpec) -> None:
        if spec.id in self.prepared:
            self.prepared[spec.id] = spec

    def reloadable(self) -> list[str]:
        return []

    def forget(self, agent_id: str) -> None:
        self.prepared.pop(agent_id, None)

    def start(self, attempt: Attempt, report: AttemptReporter) -> None:
        self.started.append(attempt)
        self._running[attempt.task_id] = (attempt, report)

    def cancel(self, task_id: str) -> None:
        if self._running.pop(task_id, None) is not None:
            self.cancelled.append(task_id)

    def running(self) -> int:
        return len(self._running)

    def running_ids(self) -> list[str]:
        return list(self._running)

    def finish(self, task_id: str, result: AttemptResult | None = None) -> None:
        """End a running attempt (success by default), as the agent would."""
        attempt, report = self._running.pop(task_id)
        report(task_id, attempt.token, result or AttemptResult(Outcome.SUCCEEDED, attempt.payload))

    def fail(self, task_id: str, kind: str = "boom", retryable: bool = True) -> None:
        self.finish(
            task_id,
            AttemptResult(Outcome.FAILED, error_kind=kind, error_message=kind, retryable=retryable),
        )

    def unplaceable(self, agent_id: str, resources: Mapping[str, float]) -> str | None:
        return None  # in this process: the agent's own offer of resources is all that counts

    def capacity_changed(self) -> bool:
        return False

    async def close(self) -> None:
        self.closed = True
        self._running.clear()
