"""The engine's one executor, choosing per agent where it runs: in this process (runtime
``local``) or on a Ray cluster (``ray``), from ``runtime`` in the agent's config or the
server's default. The Ray executor is built at the first agent that needs it."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from imperium.domain.errors import AgentLoadError
from imperium.domain.models import AgentSpec
from imperium.extras import missing, missing_message
from imperium.ports import Attempt, AttemptReporter, Executor

RUNTIMES = ("local", "ray")


def runtime_of(spec: AgentSpec, default: str) -> str:
    """The runtime an agent asks for (``runtime`` in its config), else ``default``;
    AgentLoadError for an unknown one, or ray without its extra."""
    runtime = spec.config.get("runtime", default)
    if runtime not in RUNTIMES:
        raise AgentLoadError(
            f"unknown runtime {runtime!r} in the agent's config; use one of {', '.join(RUNTIMES)}"
        )
    if runtime == "ray" and missing("ray"):
        raise AgentLoadError(missing_message(("ray",), "an agent with runtime ray"))
    return str(runtime)


class RuntimeExecutor:
    def __init__(
        self, local: Executor, make_ray: Callable[[], Executor], default_runtime: str = "local"
    ) -> None:
        self._executors: dict[str, Executor] = {"local": local}
        self._make_ray = make_ray
        self._default = default_runtime
        self._by_agent: dict[str, Executor] = {}

    def _executor(self, runtime: str) -> Executor:
        if runtime not in self._executors:
            self._executors[runtime] = self._make_ray()
        return self._executors[runtime]

    def prepare(self, spec: AgentSpec) -> None:
        self.forget(spec.id)
        executor = self._executor(runtime_of(spec, self._default))
        executor.prepare(spec)
        self._by_agent[spec.id] = executor

    def update(self, spec: AgentSpec) -> None:
        executor = self._by_agent.get(spec.id)
        if executor is not None:
            executor.update(spec)

    def reloadable(self) -> list[str]:
        return [a for e in self._executors.values() for a in e.reloadable()]

    def forget(self, agent_id: str) -> None:
        executor = self._by_agent.pop(agent_id, None)
        if executor is not None:
            executor.forget(agent_id)

    def start(self, attempt: Attempt, report: AttemptReporter) -> None:
        self._by_agent.get(attempt.agent_id, self._executors["local"]).start(attempt, report)

    def cancel(self, task_id: str) -> None:
        for executor in self._executors.values():  # only the one running it has it
            executor.cancel(task_id)

    def running(self) -> int:
        return sum(e.running() for e in self._executors.values())

    def unplaceable(self, agent_id: str, resources: Mapping[str, float]) -> str | None:
        executor = self._by_agent.get(agent_id)
        return None if executor is None else executor.unplaceable(agent_id, resources)

    def capacity_changed(self) -> bool:
        return any([e.capacity_changed() for e in self._executors.values()])

    async def close(self) -> None:
        for executor in self._executors.values():
            await executor.close()
