"""Which ready task runs next, and on which agents.

The ready queues (one per queue key, see queues.py), which agents serve each queue, the
custody gates (task types that need a level) and the tasks set aside because no
registered agent could ever take them. Dispatch and remote leases both choose through
:meth:`Placement.next_ready`, so the rule is written once.
"""

from __future__ import annotations

from collections.abc import Callable

from imperium.domain.budgets import Spent
from imperium.domain.models import AgentState, Task
from imperium.domain.selection import can_take_now, could_ever_take
from imperium.domain.states import AgentStatus
from imperium.services.engine.queues import QueueKey, ReadyQueues

Rank = tuple[float, int]


class Placement:
    def __init__(
        self, agents: dict[str, AgentState], announce: Callable[[Task, str], None]
    ) -> None:
        """``agents`` is the scheduler's agent table (read here, never changed);
        ``announce`` is told why a task was set aside."""
        self.queues = ReadyQueues()
        self.levels: dict[str, int] = {}  # agent -> custody level (1 when never tested)
        self._agents = agents
        self._announce = announce
        self._min_levels: dict[str, int] = {}  # task type -> custody level it requires
        self._parked: dict[str, Task] = {}
        self._placeable: dict[QueueKey, str] = {}  # per queue, the top task found placeable
        self._serving: dict[QueueKey, list[AgentState]] = {}
        self.held: dict[str, Spent] = {}
        """Agents that spent their daily budget (the engine's BudgetLedger keeps it):
        they take nothing until it resets."""
        self.runtime_limit: Callable[[AgentState, Task], str | None] = _no_limit
        """Why the place an agent runs (its executor's cluster) can never hold the task's
        resources, or None (set by the engine from its executor)."""

    def next_ready(
        self, able: Callable[[AgentState], bool], only: AgentState | None = None
    ) -> tuple[Task, list[AgentState]] | None:
        """The highest-ranked ready task that an agent for which ``able`` holds can start
        now (``only``: that agent alone), taken off its queue, with the agents that can."""
        best: tuple[Rank, Task, list[AgentState]] | None = None
        for key in list(self.queues.keys()):
            serving = self._serving_agents(key)
            if only is not None and only not in serving:
                continue
            top = self._placeable_top(key)
            if top is None or (best is not None and top[0] <= best[0]):
                continue
            rank, task = top
            pool = serving if only is None else [only]
            held = self.held
            candidates = [
                a
                for a in pool
                if able(a)
                and can_take_now(a, task)
                and self.qualified(a, task)
                and (not held or a.spec.id not in held)
            ]
            if candidates:
                best = (rank, task, candidates)
        if best is None:
            return None
        self.queues.remove(best[1].id)
        return best[1], best[2]

    def qualified(self, agent: AgentState, task: Task) -> bool:
        """The agent's custody level meets what the task type requires (a task pinned to
        an agent is that agent's, whatever its level: e.g. its own custody test)."""
        if task.pinned_agent is not None or not self._min_levels:
            return True
        need = self._min_levels.get(task.type)
        return need is None or self.levels.get(agent.spec.id, 1) >= need

    @property
    def min_levels(self) -> dict[str, int]:
        """Task type -> the custody level an agent needs to be routed a task of it."""
        return self._min_levels

    @min_levels.setter
    def min_levels(self, levels: dict[str, int]) -> None:
        self._min_levels = dict(levels)
        self.queues.regate(self._min_levels)  # gated types queue apart (see queues.py)
        self.agents_changed()

    def agents_changed(self) -> None:
        """An agent came, went or changed: who serves which queue is worked out again."""
        self._serving.clear()
        self._placeable.clear()

    def levels_changed(self) -> None:
        self._placeable.clear()

    def take_parked(self) -> list[Task]:
        """The tasks set aside, to be placed again (agents or levels changed)."""
        parked, self._parked = self._parked, {}
        return list(parked.values())

    def drop(self, task_id: str) -> None:
        """The task ended: out of its queue, or of the parked set."""
        self.queues.remove(task_id)
        self._parked.pop(task_id, None)

    def _serving_agents(self, key: QueueKey) -> list[AgentState]:
        agents = self._serving.get(key)
        if agents is None:
            pinned, caps, _ = key
            agents = [
                a
                for a in self._agents.values()
                if (a.spec.id == pinned if pinned is not None else caps <= a.spec.capabilities)
            ]
            self._serving[key] = agents
        return agents

    def _placeable_top(self, key: QueueKey) -> tuple[Rank, Task] | None:
        """The top of a queue, after parking tasks that no registered agent could ever
        take (so one impossible request does not block the tasks behind it)."""
        while (top := self.queues.peek(key)) is not None:
            if self._placeable.get(key) == top[1].id:
                return top  # checked when it reached the top; agents have not changed since
            able = [
                a
                for a in self._serving_agents(key)
                if a.spec.status is not AgentStatus.RETIRED and could_ever_take(a, top[1])
            ]
            limits = [self.runtime_limit(a, top[1]) for a in able]
            fitting = [a for a, why in zip(able, limits, strict=True) if why is None]
            qualified = [a for a in fitting if self.qualified(a, top[1])]
            if any(a.spec.id not in self.held for a in qualified):
                self._placeable[key] = top[1].id
                return top
            if qualified:  # every agent that could take it has spent its daily budget
                self._park_for_budget(top[1], qualified)
                continue
            reason = None if fitting else next((why for why in limits if why), None)
            self._park(top[1], gated=bool(fitting), reason=reason)
        return None

    def _park(self, task: Task, *, gated: bool, reason: str | None = None) -> None:
        self.queues.remove(task.id)
        self._parked[task.id] = task
        if reason is not None:
            reason += "; it waits until the cluster grows or an agent able to take it changes"
        elif gated:
            reason = (
                f"task type '{task.type}' requires custody level "
                f"{self._min_levels.get(task.type)}, which none of the agents able to "
                "take it has; it waits until one passes its custody tests"
            )
        else:
            reason = (
                "no registered agent offers the capabilities and resources it needs; "
                "it waits until one is registered or updated"
            )
        self._announce(task, reason)

    def _park_for_budget(self, task: Task, held: list[AgentState]) -> None:
        self.queues.remove(task.id)
        self._parked[task.id] = task
        reasons = "; ".join(self.held[a.spec.id].reason(a.spec.id) for a in held[:3])
        self._announce(
            task,
            f"{reasons}. It waits until then, or until a budget is raised "
            "(imperium agents update ID --config ...) or another agent able to take it is "
            "registered",
        )


def _no_limit(agent: AgentState, task: Task) -> str | None:
    return None
