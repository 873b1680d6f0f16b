"""The scheduler's state: what it holds in memory, and the transitions that change it.

All task state lives in the database; this object keeps the indexes that make dispatch
fast (active tasks, ready heaps per queue key, agent slots, timers) and changes them only
through the named transitions below, each marking what it changed in the journal. It is
synchronous and runs on the event loop, so it needs no locks. Dispatch (core.py),
recovery (recovery.py) and remote leases (remote.py) all go through it; everyone else
reads it through :meth:`SchedulerState.snapshot`.

Three hooks connect it to the engine around it: ``wake`` (work may be startable: dispatch
and wake lease long-polls), ``stop_attempt`` (an in-process attempt must stop) and
``ended`` (a task's end is durable and it left memory).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from functools import partial

from imperium.domain.alerts import drift_data
from imperium.domain.budgets import BUDGET_SPENT, Spent, budget_of
from imperium.domain.cache import CacheEntry
from imperium.domain.errors import StaleLeaseError, ValidationError
from imperium.domain.learning import SCHEDULER_RESTART
from imperium.domain.models import AgentState, AttemptResult, Event, Execution, Task
from imperium.domain.priority import next_urgency_change, score_and_key, task_features
from imperium.domain.retry import RetryPolicy, should_retry
from imperium.domain.routing import DriftAlarm
from imperium.domain.selection import LeastLoaded, SelectionPolicy
from imperium.domain.states import Outcome, TaskState, can_transition
from imperium.ports import Clock, Rng
from imperium.services.budgets import BudgetLedger
from imperium.services.engine.census import Snapshot
from imperium.services.engine.journal import Journal
from imperium.services.engine.placement import Placement
from imperium.services.engine.timers import TimerKind, Timers

log = logging.getLogger(__name__)


def _nothing(*_args: object) -> None:
    return None


class SchedulerState:
    def __init__(
        self,
        journal: Journal,
        clock: Clock,
        rng: Rng,
        policy: SelectionPolicy,
        retry: RetryPolicy,
        lease_seconds: float,
        max_restarts: int,
    ) -> None:
        self.journal = journal
        self.clock = clock
        self.rng = rng
        self.policy = policy
        self.retry = retry
        self.lease_seconds = lease_seconds
        self.max_restarts = max_restarts
        self.tasks: dict[str, Task] = {}
        self.agents: dict[str, AgentState] = {}
        self.placement = Placement(self.agents, self._unplaceable)
        self.queues = self.placement.queues
        self.levels = self.placement.levels  # agent -> custody level (1 when never tested)
        self.budgets = BudgetLedger()  # today's spend per agent; who reached a daily budget
        self.placement.held = self.budgets.held
        self.timers = Timers()
        self.idle = asyncio.Event()  # no active task, every outcome durable
        self.wake: Callable[[], None] = _nothing
        self.stop_attempt: Callable[[Task], None] = _nothing
        self.ended: Callable[[Task], None] = _nothing
        self._dependents: dict[str, list[str]] = {}
        self._unmet: dict[str, int] = {}
        self._rekey_at: dict[str, tuple[float, int]] = {}  # wall time, timer seq

    # ------------------------------------------------------------------ reading
    def snapshot(self) -> Snapshot:
        """Everything outside the scheduler reads its live state through this."""
        now = self.clock.now()
        return Snapshot(now, self.tasks, self.agents, self.queues, self.journal.batches)

    def is_remote(self, agent_id: str | None) -> bool:
        agent = self.agents.get(agent_id or "")
        return agent is not None and agent.remote

    def local_running(self) -> list[Task]:
        return [
            t
            for t in self.tasks.values()
            if t.state is TaskState.RUNNING and not self.is_remote(t.agent_id)
        ]

    def due_in(self, seconds: float) -> float:
        """The monotonic time ``seconds`` from now, for a timer or a lease deadline."""
        return self.clock.monotonic() + seconds

    # ------------------------------------------------------------------ admission
    def admit(self, task: Task, known: dict[str, TaskState], *, announce: bool = True) -> None:
        """Place a new or recovered task: pending on dependencies, ready, or failed.

        ``announce=False`` (recovery) records no event when the state does not change."""
        self.tasks[task.id] = task
        self.idle.clear()
        unmet, failed_dep = 0, None
        for dep in task.depends_on:
            state = self.tasks[dep].state if dep in self.tasks else known.get(dep)
            if state is TaskState.SUCCEEDED:
                continue
            if state is None or state.is_terminal:
                failed_dep = (dep, state)
                break
            unmet += 1
            self._dependents.setdefault(dep, []).append(task.id)
        now = self.clock.now()
        if failed_dep is not None:
            dep, state = failed_dep
            self._fail_dependent(task, dep, state, now)
        elif unmet:
            self._unmet[task.id] = unmet
            changed = task.state is not TaskState.PENDING
            self.set_state(task, TaskState.PENDING, now)
            if announce or changed:
                self.event("task.pending", task, {"waiting_on": unmet})
        else:
            changed = task.state is not TaskState.QUEUED
            self.make_ready(task, now)
            if announce or changed:
                self.event("task.queued", task, {"score": round(task.score, 2)})

    def make_ready(self, task: Task, now: float) -> None:
        if task.state is not TaskState.QUEUED:
            self.set_state(task, TaskState.QUEUED, now)
        if task.not_before is not None and task.not_before > now:
            self.timers.add(self.due_in(task.not_before - now), TimerKind.RELEASE, task.id)
            return
        task.not_before = None
        if task.ready_at is None:
            task.ready_at = now
        task.score, key = score_and_key(task_features(task), now)
        self.queues.push(task, key)
        change = next_urgency_change(task.deadline, now)
        if change is not None and self._rekey_at.get(task.id, (None, 0))[0] != change:
            seq = self.timers.add(self.due_in(change - now), TimerKind.REKEY, task.id)
            self._rekey_at[task.id] = (change, seq)
        self.wake()

    # ------------------------------------------------------------------ choosing work
    def choose(self, task: Task, candidates: list[AgentState]) -> AgentState:
        if len(candidates) == 1:
            return candidates[0]
        try:
            chosen = self.policy.choose(task, candidates)
            if chosen in candidates:
                return chosen
            log.error("selection policy chose an agent that cannot take the task")
        except Exception:
            log.exception("selection policy failed; falling back to least-loaded")
        return LeastLoaded().choose(task, candidates)

    def next_ready(
        self, able: Callable[[AgentState], bool], only: AgentState | None = None
    ) -> tuple[Task, list[AgentState]] | None:
        """The highest-ranked ready task that an agent for which ``able`` holds can start
        now (``only``: that agent alone), taken off its queue, with the agents that can.
        Dispatch and remote leases both choose with this."""
        return self.placement.next_ready(able, only)

    def _unpark(self) -> None:
        now = self.clock.now()
        for task in self.placement.take_parked():
            if task.state is TaskState.QUEUED:
                self.make_ready(task, now)

    # ------------------------------------------------------------------ attempts
    def start(self, task: Task, agent: AgentState) -> None:
        """Lease ``task`` to ``agent``: a new attempt and fencing token, a slot taken."""
        now = self.clock.now()
        task.attempts += 1
        task.lease_token += 1
        task.agent_id = agent.spec.id
        task.started_at = now
        if agent.remote:
            task.lease_expires_at = now + self.lease_seconds
            task.lease_deadline = self.due_in(self.lease_seconds)
        else:
            task.lease_expires_at = task.lease_deadline = None
        self.set_state(task, TaskState.RUNNING, now)
        self._take_slot(agent, task)
        waited = now - task.ready_at if task.ready_at is not None else 0.0
        task.ready_at = None
        self.event("task.running", task, {"attempt": task.attempts, "waited": round(waited, 6)})
        if task.timeout is not None:
            self.timers.add(self.due_in(task.timeout), TimerKind.TIMEOUT, task.id, task.lease_token)
        if task.lease_deadline is not None:
            self.timers.add(task.lease_deadline, TimerKind.LEASE, task.id, task.lease_token)

    def current(self, task_id: str, token: int) -> Task:
        """The running task whose lease ``token`` is current; StaleLeaseError otherwise."""
        task = self.tasks.get(task_id)
        if task is None or task.state is not TaskState.RUNNING or task.lease_token != token:
            state = task.state if task is not None else "finished or unknown"
            raise StaleLeaseError(  # naming the current token would hand it to the caller
                f"lease {token} of task {task_id} is not current (task is {state}); nothing "
                "was recorded. Lease the task again"
            )
        return task

    def extend_lease(self, task: Task) -> float:
        """A heartbeat: the lease runs a whole period from now; returns the new expiry."""
        now = self.clock.now()
        task.lease_expires_at = now + self.lease_seconds
        task.lease_deadline = self.due_in(self.lease_seconds)
        task.updated_at = now
        self.journal.update(task)
        return task.lease_expires_at

    def finish(self, task_id: str, token: int, result: AttemptResult) -> Task:
        """Record an attempt's outcome; a stale token raises StaleLeaseError."""
        task = self.current(task_id, token)
        now = self.clock.now()
        self._release_slot(task)
        self._record(task, result.outcome, now, result.error_kind, result.error_message, result)
        if result.outcome is Outcome.SUCCEEDED or result.outcome is Outcome.CACHED:
            task.result, task.error_kind, task.error_message = result.result, None, None
            self._terminal(task, TaskState.SUCCEEDED, now)
        else:
            task.error_kind = result.error_kind or str(result.outcome)
            task.error_message = result.error_message
            self._after_failure(task, result.outcome, result.retryable, now)
        return task

    def serve_cached(self, task: Task, entry: CacheEntry) -> None:
        """A running task ends with a result from the cache instead of its agent's: one
        ``cached`` execution (no tokens or cost spent, nothing a router learns from), a
        ``task.cache_hit`` event, and then the task succeeds as any other would."""
        saved: dict[str, object] = {
            "tokens_saved": entry.tokens, "cost_saved": entry.cost,
            "cached_at": entry.created_at, "config_version": entry.config_version,
        }  # fmt: skip
        self.event("task.cache_hit", task, saved)
        self.finish(task.id, task.lease_token, AttemptResult(Outcome.CACHED, entry.result))

    def cancel(self, task: Task) -> None:
        """End ``task`` as cancelled (a running attempt is stopped) with its dependents."""
        now = self.clock.now()
        if task.state is TaskState.RUNNING:
            if not self.is_remote(task.agent_id):
                self.stop_attempt(task)
            self._release_slot(task)
            self._record(task, Outcome.CANCELLED, now, "cancelled", "cancelled by request")
        task.error_kind, task.error_message = "cancelled", "cancelled by request"
        self._terminal(task, TaskState.CANCELLED, now)

    def interrupt(self, task: Task) -> None:
        """A graceful shutdown stops a running local attempt: queued again, uncharged."""
        now = self.clock.now()
        self.stop_attempt(task)
        self._release_slot(task)
        self._record(task, Outcome.INTERRUPTED, now, "shutdown", "scheduler shut down")
        task.max_attempts += 1
        self.set_state(task, TaskState.QUEUED, now)
        self.event("task.interrupted", task, {"attempt": task.attempts})

    def lost_in_restart(self, task: Task) -> bool:
        """A running attempt the previous scheduler left behind is lost; the task goes back
        to the queue without being charged, unless it has been lost to more restarts than
        allowed (it probably crashes the scheduler). False when it must end dead (call
        :meth:`end_dead` once every loaded task is admitted, so its dependents end too)."""
        task.restarts += 1
        now = self.clock.now()
        message = "the scheduler stopped while this attempt ran"
        self._record(task, Outcome.LOST, now, SCHEDULER_RESTART, message)
        task.lease_expires_at = None
        task.error_kind = SCHEDULER_RESTART
        if task.restarts > self.max_restarts:
            task.error_message = (
                f"{message}, the {task.restarts}th time (limit IMPERIUM_MAX_RESTARTS="
                f"{self.max_restarts}); it may be what crashes the scheduler"
            )
            return False
        task.error_message = message
        self.set_state(task, TaskState.QUEUED, now)
        self.event("task.requeued", task, {"attempt": task.attempts})
        return True

    def end_dead(self, task: Task) -> None:
        self._terminal(task, TaskState.DEAD, self.clock.now())

    def resume_lease(self, task: Task) -> bool:
        """A remote agent's lease survives a scheduler restart. Its worker could not
        heartbeat or report while the scheduler was down, so the lease gets a whole
        period from now (at least): one that ran out meanwhile is not the worker's fault."""
        agent = self.agents.get(task.agent_id or "")
        if agent is None or not agent.remote:
            return False
        self._take_slot(agent, task)
        now = self.clock.now()
        left = max(self.lease_seconds, (task.lease_expires_at or 0.0) - now)
        task.lease_expires_at, task.lease_deadline = now + left, self.due_in(left)
        self.journal.update(task)
        self.timers.add(task.lease_deadline, TimerKind.LEASE, task.id, task.lease_token)
        if task.timeout is not None:
            started = task.started_at if task.started_at is not None else now
            due = self.due_in(started + task.timeout - now)
            self.timers.add(due, TimerKind.TIMEOUT, task.id, task.lease_token)
        return True

    def _take_slot(self, agent: AgentState, task: Task) -> None:
        agent.running += 1
        for name, amount in task.resources.items():
            agent.resources_in_use[name] = agent.resources_in_use.get(name, 0.0) + amount

    def _release_slot(self, task: Task) -> None:
        agent = self.agents.get(task.agent_id or "")
        if agent is None:
            return
        agent.running = max(0, agent.running - 1)
        for name, amount in task.resources.items():
            agent.resources_in_use[name] = max(0.0, agent.resources_in_use.get(name, 0.0) - amount)
        task.lease_expires_at = task.lease_deadline = None
        self.wake()

    def _record(
        self,
        task: Task,
        outcome: Outcome,
        now: float,
        error_kind: str | None = None,
        error_message: str | None = None,
        result: AttemptResult | None = None,
    ) -> None:
        execution = Execution(
            task_id=task.id,
            attempt=task.attempts,
            agent_id=task.agent_id,
            task_type=task.type,
            complexity=task.complexity,
            started_at=task.started_at if task.started_at is not None else now,
            finished_at=now,
            outcome=outcome,
            lease_token=task.lease_token,
            error_kind=error_kind,
            error_message=error_message,
            resources=dict(task.resources),
            tokens=result.tokens if result else None,
            cost=result.cost if result else None,
        )
        self.journal.execution(execution)
        if execution.tokens or execution.cost:
            self._spend(execution, now)
        try:
            alarm = self.policy.observe(execution)
        except Exception:
            log.exception("selection policy failed to learn from an execution")
            return
        if isinstance(alarm, DriftAlarm):  # stored and published like any event (alerts)
            self.event("agent.drift", None, drift_data(alarm), agent_id=alarm.agent_id)

    def _spend(self, execution: Execution, now: float) -> None:
        agent_id = execution.agent_id or ""
        self._roll_budgets(now)
        was_held = agent_id in self.budgets.held
        news = self.budgets.observe(agent_id, execution.tokens or 0, execution.cost or 0.0, now)
        self._budget_news(agent_id, news, was_held)

    def _roll_budgets(self, now: float) -> None:
        """At a new UTC day every hold is released, whichever agent's spend (or budget)
        is recorded first: the tasks parked for held agents are placed again."""
        if now >= self.budgets.resets_at and self.budgets.roll(now):
            self._agents_changed()

    def _budget_news(self, agent_id: str, news: Spent | None, was_held: bool) -> None:
        """An agent's hold changed: who may take what is worked out again; a limit
        reached for the first time today is announced (``agent.budget_spent``)."""
        if news is not None:
            data: dict[str, object] = {
                "agent_id": agent_id, "agent_name": agent_id, "kind": news.kind,
                "limit": news.limit, "spent": news.spent, "resets_at": news.resets_at,
            }  # fmt: skip
            self.event(BUDGET_SPENT, None, data, agent_id=agent_id)
        if was_held != (agent_id in self.budgets.held):
            self.placement.agents_changed()
            self._unpark()

    def _after_failure(self, task: Task, outcome: Outcome, retryable: bool, now: float) -> None:
        charged = task.attempts - task.restarts  # attempts lost to restarts are not charged
        if should_retry(charged, task.max_attempts, retryable):
            delay = self.retry.delay(charged, self.rng.random())
            task.not_before = now + delay
            self.event(
                "task.retrying",
                task,
                {"attempt": task.attempts, "delay": round(delay, 3), "error": task.error_kind},
            )
            self.make_ready(task, now)
            return
        if outcome is Outcome.TIMED_OUT:
            final = TaskState.TIMED_OUT
        else:
            final = TaskState.DEAD if retryable else TaskState.FAILED
        self._terminal(task, final, now)

    # ------------------------------------------------------------------ ends
    def _terminal(self, task: Task, state: TaskState, now: float) -> None:
        """End ``task`` and everything that depended on it (iteratively, for long chains)."""
        stack: list[tuple[Task, TaskState]] = [(task, state)]
        while stack:
            current, final = stack.pop()
            self.placement.drop(current.id)
            self._rekey_at.pop(current.id, None)
            self._unmet.pop(current.id, None)
            current.finished_at = now
            current.lease_expires_at = current.lease_deadline = None
            self.set_state(current, final, now)
            data: dict[str, object] | None = None
            if final is not TaskState.SUCCEEDED:
                data = {"error_kind": current.error_kind, "error": current.error_message}
            self.event(f"task.{final}", current, data)
            self.journal.after_commit(partial(self._forget, current))
            for dep_id in self._dependents.pop(current.id, []):
                dependent = self.tasks.get(dep_id)
                if dependent is None or dependent.state is not TaskState.PENDING:
                    continue
                if final is TaskState.SUCCEEDED:
                    self._dependency_done(dependent, now)
                else:
                    _describe_dependency_failure(dependent, current.id, final)
                    stack.append((dependent, _propagated_state(final)))

    def _dependency_done(self, task: Task, now: float) -> None:
        left = self._unmet.get(task.id, 1) - 1
        if left > 0:
            self._unmet[task.id] = left
            return
        self._unmet.pop(task.id, None)
        self.make_ready(task, now)
        self.event("task.queued", task, {"score": round(task.score, 2)})

    def _fail_dependent(self, task: Task, dep: str, state: TaskState | None, now: float) -> None:
        _describe_dependency_failure(task, dep, state)
        final = _propagated_state(state) if state is not None else TaskState.FAILED
        self._terminal(task, final, now)

    def _forget(self, task: Task) -> None:
        if self.tasks.get(task.id) is task and task.state.is_terminal:
            del self.tasks[task.id]
            self.ended(task)
            if not self.tasks:
                self.idle.set()

    # ------------------------------------------------------------------ timers
    def process_timers(self) -> None:
        now = self.clock.now()
        self._roll_budgets(now)
        if len(self.timers) > 10_000 and len(self.timers) > 4 * len(self.tasks):
            # timers of finished tasks (e.g. long timeouts) would otherwise wait to fall due
            self.timers.compact(lambda timer: timer.task_id in self.tasks)
        for timer in self.timers.pop_due(self.clock.monotonic()):
            task = self.tasks.get(timer.task_id)
            if task is None:
                continue
            if timer.kind is TimerKind.RELEASE:
                if task.state is TaskState.QUEUED and task.id not in self.queues:
                    task.not_before = None
                    self.make_ready(task, now)
            elif timer.kind is TimerKind.REKEY:
                if self._rekey_at.get(task.id, (None, 0))[1] != timer.seq:
                    continue  # superseded by a later chain
                del self._rekey_at[task.id]
                if task.id in self.queues:
                    self.queues.remove(task.id)
                    self.make_ready(task, now)
            elif task.state is TaskState.RUNNING and task.lease_token == timer.token:
                if timer.kind is TimerKind.TIMEOUT:
                    self._time_out(task)
                else:
                    self._check_lease(task)

    def _time_out(self, task: Task) -> None:
        if not self.is_remote(task.agent_id):
            self.stop_attempt(task)
        message = f"attempt ran longer than the task's timeout of {task.timeout}s"
        self.finish(
            task.id,
            task.lease_token,
            AttemptResult(Outcome.TIMED_OUT, error_kind="timeout", error_message=message),
        )

    def _check_lease(self, task: Task) -> None:
        deadline = task.lease_deadline
        if deadline is not None and deadline > self.clock.monotonic():
            self.timers.add(deadline, TimerKind.LEASE, task.id, task.lease_token)  # renewed
            return
        message = "lease expired without a heartbeat; the agent is presumed dead"
        self.finish(
            task.id,
            task.lease_token,
            AttemptResult(Outcome.LOST, error_kind="lease_expired", error_message=message),
        )

    # ------------------------------------------------------------------ agents and levels
    def put_agent(self, agent: AgentState) -> None:
        """Add or replace an agent; waiting work is examined again."""
        self.agents[agent.spec.id] = agent
        self._apply_budget(agent)
        self._agents_changed()

    def _apply_budget(self, agent: AgentState) -> None:
        agent_id = agent.spec.id
        try:
            budget = budget_of(agent.spec.config)
        except ValidationError as exc:  # stored before budgets were checked at registration
            log.error("agent %s: %s; no budget applies", agent_id, exc)
            budget = None
        now = self.clock.now()
        self._roll_budgets(now)
        was_held = agent_id in self.budgets.held
        news = self.budgets.set_budget(agent_id, budget, now)
        self._budget_news(agent_id, news, was_held)

    @property
    def min_levels(self) -> dict[str, int]:
        """Task type -> the custody level an agent needs to be routed a task of it."""
        return self.placement.min_levels

    @min_levels.setter
    def min_levels(self, levels: dict[str, int]) -> None:
        self.placement.min_levels = levels
        self._unpark()
        self.wake()

    def set_custody_levels(self, levels: dict[str, int], announce: bool = False) -> None:
        """New custody levels (from the custody protocol); waiting work is re-examined.
        With ``announce``, each change is an ``agent.custody_level`` event (not when the
        levels are first loaded at start)."""
        if announce:
            for agent_id, level in sorted(levels.items()):
                before = self.levels.get(agent_id, 1)
                if level != before:
                    data: dict[str, object] = {
                        "before": before,
                        "after": level,
                        "direction": "up" if level > before else "down",
                    }
                    self.event("agent.custody_level", None, data, agent_id=agent_id)
        self.placement.levels.update(levels)
        self.placement.levels_changed()
        self._unpark()
        self.wake()

    def capacity_changed(self) -> None:
        """What the executor can place changed: parked tasks are examined again."""
        self._agents_changed()

    def _agents_changed(self) -> None:
        self.placement.agents_changed()
        self._unpark()
        self.wake()

    def _unplaceable(self, task: Task, reason: str) -> None:
        self.event("task.unplaceable", task, {"reason": reason})

    # ------------------------------------------------------------------ journal helpers
    def set_state(self, task: Task, state: TaskState, now: float) -> None:
        assert task.state is state or can_transition(task.state, state), (
            f"task {task.id}: {task.state} -> {state} is not a transition of the state machine"
        )
        task.state = state
        task.updated_at = now
        self.journal.update(task)

    def event(
        self,
        kind: str,
        task: Task | None = None,
        data: dict[str, object] | None = None,
        agent_id: str | None = None,
    ) -> None:
        self.journal.event(
            Event(
                kind,
                self.clock.now(),
                task.id if task is not None else None,
                agent_id if agent_id is not None else (task.agent_id if task else None),
                data,
            )
        )


def _propagated_state(cause: TaskState) -> TaskState:
    return TaskState.CANCELLED if cause is TaskState.CANCELLED else TaskState.FAILED


def _describe_dependency_failure(task: Task, dep: str, state: TaskState | None) -> None:
    cancelled = state is TaskState.CANCELLED
    task.error_kind = "dependency_cancelled" if cancelled else "dependency_failed"
    task.error_message = f"dependency {dep} ended {state or 'unknown'}"
