"""The scheduler: admission, dispatch, completion, retries, cancellation, leases.

All task state lives in the database; this object keeps the in-memory indexes (active
tasks, ready heaps per capability set, agent slots, timers) and changes them only on the
event loop, so no locks are needed. Every change is marked in the :class:`Journal`; what
the outside world can observe (an acknowledgement, an attempt starting, a lease handed out)
happens only after the journal has made it durable.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial

from imperium.domain.errors import (
    ConflictError,
    NotFoundError,
    StaleLeaseError,
    ValidationError,
)
from imperium.domain.models import AgentSpec, AgentState, AttemptResult, Event, Execution, Task
from imperium.domain.priority import PriorityFeatures, next_urgency_change, score_and_key
from imperium.domain.retry import RetryPolicy, should_retry
from imperium.domain.selection import (
    LeastLoaded,
    SelectionPolicy,
    can_take_now,
    could_ever_take,
)
from imperium.domain.specs import (
    TaskSpec,
    WorkflowSpec,
    build_task,
    check_dependencies,
    external_dependencies,
    plan_workflow,
    validate_task_spec,
)
from imperium.domain.states import AgentStatus, Outcome, TaskState, can_transition
from imperium.ports import Attempt, Clock, EventSink, Executor, Rng, Store
from imperium.services.engine import remote
from imperium.services.engine.journal import (
    Journal,
    JournalClosedError,
    describe_storage_error,
    is_storage_failure,
)
from imperium.services.engine.lock import SchedulerLock
from imperium.services.engine.queues import QueueKey, ReadyQueues
from imperium.services.engine.remote import Lease
from imperium.services.engine.timers import TimerKind, Timers

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EngineConfig:
    lease_seconds: float = 15.0
    lock_ttl: float = 10.0
    poll_interval: float = 0.25
    tick: float = 0.02
    drain_seconds: float = 10.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    max_restarts: int = 20
    """Attempts a task may lose to the scheduler's own crashes (not charged as attempts);
    one more and it ends dead, since it probably crashes the scheduler itself."""
    storage_outage_limit: float | None = None
    """Seconds of failing database writes after which the scheduler stops (for a
    supervisor to restart it); None rides out any outage."""


def features(task: Task) -> PriorityFeatures:
    res = task.resources
    return PriorityFeatures(
        level=task.priority,
        created_at=task.created_at,
        deadline=task.deadline,
        dependents=task.dependents,
        estimated_duration=task.estimated_duration,
        cpu=res.get("cpu", 0.0),
        gpu=res.get("gpu", 0.0),
        memory_mb=res.get("memory_mb", 0.0),
    )


class Engine:
    def __init__(
        self,
        store: Store,
        executor: Executor,
        lock: SchedulerLock,
        clock: Clock,
        rng: Rng,
        new_id: Callable[[], str],
        config: EngineConfig | None = None,
        policy: SelectionPolicy | None = None,
        json_problem: Callable[[object], str | None] | None = None,
        events: EventSink | None = None,
    ) -> None:
        self.store = store
        self.executor = executor
        self.lock = lock
        self.clock = clock
        self.rng = rng
        self.new_id = new_id
        self.config = config or EngineConfig()
        self.policy: SelectionPolicy = policy or LeastLoaded()
        self._json_problem = json_problem
        self.journal = Journal(
            store,
            lock.owner,
            clock,
            self.config.lock_ttl,
            give_up_after=self.config.storage_outage_limit,
        )
        self.journal.on_committed = events.publish if events is not None else None
        self.journal.on_outage = self._on_storage_outage
        self.journal.on_recovered = self._on_storage_recovered
        self.tasks: dict[str, Task] = {}
        self.agents: dict[str, AgentState] = {}
        self.queues = ReadyQueues()
        self.timers = Timers()
        self._dependents: dict[str, list[str]] = {}
        self._unmet: dict[str, int] = {}
        self._parked: dict[str, Task] = {}
        self._placeable: dict[QueueKey, str] = {}  # per queue, the top task found placeable
        self._rekey_at: dict[str, tuple[float, int]] = {}  # wall time, timer seq
        self._serving: dict[QueueKey, list[AgentState]] = {}
        self._waiters: dict[str, list[asyncio.Future[Task]]] = {}
        self._ready_signal = asyncio.Event()
        self._idle = asyncio.Event()
        self._dispatching = False
        self._dispatch_scheduled = False
        self._loops: list[asyncio.Task[None]] = []
        self._writer: asyncio.Task[None] | None = None
        self._agents_seen = 0.0
        self._min_levels: dict[str, int] = {}  # task type -> custody level it requires
        self.levels: dict[str, int] = {}  # agent -> custody level (1 when never tested)
        self.stopped = asyncio.Event()
        self.failed = asyncio.Event()  # set when the scheduler can no longer write
        self.journal.on_fatal = self._on_journal_failure

    # ------------------------------------------------------------------ lifecycle
    async def start(self, *, standby: bool = False) -> None:
        """Take the scheduler lock, rebuild state from the database, start dispatching."""
        await self.lock.acquire(wait=standby)
        self.journal.lock_expires_at = self.lock.expires_at
        from imperium.services.engine.recovery import recover

        await recover(self)
        await self.journal.flush()
        self._writer = asyncio.create_task(self.journal.run(self.config.lock_ttl / 3))
        self._loops = [
            asyncio.create_task(self._tick_loop()),
            asyncio.create_task(self._poll_loop()),
        ]
        self._dispatching = True
        self._schedule_dispatch()
        self._check_idle()

    def stop_dispatching(self) -> None:
        """Hand out nothing new from now on; waiting lease long-polls return at once."""
        self._dispatching = False
        self._ready_signal.set()

    async def stop(self, drain: float | None = None) -> None:
        """Stop dispatching, let running work finish for ``drain`` seconds, re-queue the rest."""
        if self.stopped.is_set():
            return
        self._dispatching = False
        if self.journal.failed is not None:
            # another scheduler owns the database now and re-runs this work: stop it here
            await asyncio.gather(*self._loops, return_exceptions=True)
            await self.executor.close()
            self.stopped.set()
            return
        drain = self.config.drain_seconds if drain is None else drain
        loop = asyncio.get_running_loop()
        deadline = loop.time() + drain  # a real wait, so the loop's clock, not the injected one
        while self._local_running() and loop.time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.02)  # attempts end on their own; poll until drained
        for loop_task in self._loops:
            loop_task.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        self._interrupt_local()
        self._event("scheduler.stopped", data={"owner": self.lock.owner})
        self.journal.stop()
        if self._writer is not None:
            await asyncio.gather(self._writer, return_exceptions=True)
        if self.journal.failed is None:
            await self.lock.release()
        await self.executor.close()
        self.stopped.set()

    def _on_journal_failure(self, exc: BaseException) -> None:
        log.error("scheduler stops: %s", exc)
        self._dispatching = False
        for loop_task in self._loops:
            loop_task.cancel()
        self.failed.set()
        for waiters in self._waiters.values():
            for fut in waiters:
                if not fut.done():
                    fut.set_exception(JournalClosedError(f"the scheduler stopped: {exc}"))

    def _on_storage_outage(self, cause: str) -> None:
        """Writes fail for a while: hand out nothing new (lease long-polls end at once);
        attempts already running go on and are recorded when the database is back."""
        self._ready_signal.set()

    def _on_storage_recovered(self, cause: str, seconds: float) -> None:
        self._event(
            "scheduler.storage_recovered",
            data={"owner": self.lock.owner, "cause": cause, "seconds": round(seconds, 3)},
        )
        self._ready_signal.set()
        self._schedule_dispatch()

    def _local_running(self) -> list[Task]:
        return [
            t
            for t in self.tasks.values()
            if t.state is TaskState.RUNNING and not self._is_remote(t.agent_id)
        ]

    def _interrupt_local(self) -> None:
        """Re-queue attempts still running at shutdown; the attempt is not charged."""
        now = self.clock.now()
        for task in self._local_running():
            self.executor.cancel(task.id)
            self._release_slot(task)
            self._record(task, Outcome.INTERRUPTED, now, "shutdown", "scheduler shut down")
            task.max_attempts += 1
            self._set_state(task, TaskState.QUEUED, now)
            self._event("task.interrupted", task, {"attempt": task.attempts})

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.tick)
            try:
                self.process_timers()
            except Exception:
                log.exception("timer processing failed")

    async def _poll_loop(self) -> None:
        from imperium.services.engine.recovery import poll_external

        while True:
            await asyncio.sleep(self.config.poll_interval)
            if self.journal.outage is not None:
                continue  # the database does not answer: nothing to pick up, no log flood
            try:
                await poll_external(self)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not is_storage_failure(exc):
                    log.exception("polling for external changes failed; will retry")
                else:  # the journal declares the outage; one line per poll until then
                    log.warning("polling for external changes: %s", describe_storage_error(exc))

    # ------------------------------------------------------------------ submission
    async def submit(self, spec: TaskSpec) -> Task:
        return (await self.submit_many([spec]))[0]

    async def submit_many(self, specs: Sequence[TaskSpec]) -> list[Task]:
        """Admit tasks; returns once they are durable. All or nothing on bad input."""
        self.journal.check_writable()
        for spec in specs:
            self._validate(spec)
        known = await self._dependency_states(d for s in specs for d in s.depends_on)
        check_dependencies((d for s in specs for d in s.depends_on), known)
        now = self.clock.now()
        tasks = [build_task(spec, self.new_id(), now, spec.depends_on) for spec in specs]
        for task in tasks:
            self.journal.insert(task)
            self.admit(task, known)
        await self.journal.commit()
        return tasks

    async def submit_workflow(self, workflow: WorkflowSpec) -> tuple[str, list[Task]]:
        """Admit a workflow; a cycle or an unknown dependency is refused with its names."""
        self.journal.check_writable()
        for spec in workflow.tasks:
            self._validate(spec)
        known = await self._dependency_states(external_dependencies(workflow))
        workflow_id, tasks = plan_workflow(workflow, known, self.new_id, self.clock.now())
        for task in tasks:
            self.journal.insert(task)
            self.admit(task, known)
        await self.journal.commit()
        by_name = {t.name: t for t in tasks}
        return workflow_id, [by_name[s.name] for s in workflow.tasks if s.name]

    def _validate(self, spec: TaskSpec) -> None:
        validate_task_spec(spec)
        if self._json_problem is not None and (problem := self._json_problem(spec.payload)):
            raise ValidationError(f"the payload cannot be stored as JSON: {problem}")
        if spec.pinned_agent is not None:
            agent = self.agents.get(spec.pinned_agent)
            if agent is None:
                raise NotFoundError(
                    f"the task is pinned to agent '{spec.pinned_agent}', which is not "
                    "registered; register it first or drop --agent"
                )
            if agent.spec.status is AgentStatus.RETIRED:
                raise ConflictError(f"the task is pinned to retired agent '{spec.pinned_agent}'")

    async def _dependency_states(self, ids: Iterable[str]) -> dict[str, TaskState]:
        """States of the given tasks as they are when this returns.

        Tasks not in memory are read from the store. One that is in memory may end (and
        be forgotten once its end is committed) while the store is read: it is then read
        from the store too, until nothing asked for has moved.
        """
        wanted = set(ids)
        asked: set[str] = set()
        fetched: dict[str, TaskState] = {}
        while missing := [i for i in wanted if i not in self.tasks and i not in asked]:
            asked.update(missing)
            fetched.update(await self.store.task_states(missing))
        known = {i: self.tasks[i].state for i in wanted if i in self.tasks}
        known.update({i: s for i, s in fetched.items() if i not in known})
        return known

    def admit(self, task: Task, known: dict[str, TaskState], *, announce: bool = True) -> None:
        """Place a new or recovered task: pending on dependencies, ready, or failed.

        ``announce=False`` (recovery) records no event when the state does not change."""
        self.tasks[task.id] = task
        self._idle.clear()
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
            self._set_state(task, TaskState.PENDING, now)
            if announce or changed:
                self._event("task.pending", task, {"waiting_on": unmet})
        else:
            changed = task.state is not TaskState.QUEUED
            self.make_ready(task, now)
            if announce or changed:
                self._event("task.queued", task, {"score": round(task.score, 2)})

    def make_ready(self, task: Task, now: float) -> None:
        if task.state is not TaskState.QUEUED:
            self._set_state(task, TaskState.QUEUED, now)
        if task.not_before is not None and task.not_before > now:
            self.timers.add(self.due_in(task.not_before - now), TimerKind.RELEASE, task.id)
            return
        task.not_before = None
        if task.ready_at is None:
            task.ready_at = now
        task.score, key = score_and_key(features(task), now)
        self.queues.push(task, key)
        change = next_urgency_change(task.deadline, now)
        if change is not None and self._rekey_at.get(task.id, (None, 0))[0] != change:
            seq = self.timers.add(self.due_in(change - now), TimerKind.REKEY, task.id)
            self._rekey_at[task.id] = (change, seq)
        self._ready_signal.set()
        self._schedule_dispatch()

    # ------------------------------------------------------------------ dispatch
    def _schedule_dispatch(self) -> None:
        if self._dispatching and not self._dispatch_scheduled and self.journal.outage is None:
            self._dispatch_scheduled = True
            asyncio.get_running_loop().call_soon(self._dispatch)

    def _serving_agents(self, key: QueueKey) -> list[AgentState]:
        agents = self._serving.get(key)
        if agents is None:
            pinned, caps, _ = key
            agents = [
                a
                for a in self.agents.values()
                if (a.spec.id == pinned if pinned is not None else caps <= a.spec.capabilities)
            ]
            self._serving[key] = agents
        return agents

    def _dispatch(self) -> None:
        """Start the best ready task on an in-process agent, until none can start."""
        self._dispatch_scheduled = False
        if not self._dispatching or self.journal.outage is not None:
            return  # stopped, or paused while the database takes no writes
        keys = list(self.queues.keys())
        while True:
            best: tuple[tuple[float, int], Task, list[AgentState]] | None = None
            for key in keys:
                top = self._placeable_top(key)
                if top is None or (best is not None and top[0] <= best[0]):
                    continue
                candidates = [
                    a
                    for a in self._serving_agents(key)
                    if not a.remote and can_take_now(a, top[1]) and self.qualified(a, top[1])
                ]
                if candidates:
                    best = (top[0], top[1], candidates)
            if best is None:
                return
            _, task, candidates = best
            self.queues.remove(task.id)
            self._start(task, self._choose(task, candidates))

    def _placeable_top(self, key: QueueKey) -> tuple[tuple[float, int], Task] | None:
        """The top of a queue, after parking tasks that no registered agent could ever
        take (so one impossible request does not block the tasks behind it)."""
        while (top := self.queues.peek(key)) is not None:
            if self._placeable.get(key) == top[1].id:
                return top  # checked when it reached the top; agents have not changed since
            serving = self._serving_agents(key)
            able = [
                a
                for a in serving
                if a.spec.status is not AgentStatus.RETIRED and could_ever_take(a, top[1])
            ]
            if any(self.qualified(a, top[1]) for a in able):
                self._placeable[key] = top[1].id
                return top
            task = top[1]
            self.queues.remove(task.id)
            self._parked[task.id] = task
            if able:
                reason = (
                    f"task type '{task.type}' requires custody level "
                    f"{self.min_levels.get(task.type)}, which none of the agents able to "
                    "take it has; it waits until one passes its custody tests"
                )
            else:
                reason = (
                    "no registered agent offers the capabilities and resources it needs; "
                    "it waits until one is registered or updated"
                )
            self._event("task.unplaceable", task, {"reason": reason})
        return None

    def _unpark(self) -> None:
        parked, self._parked = self._parked, {}
        now = self.clock.now()
        for task in parked.values():
            if task.state is TaskState.QUEUED:
                self.make_ready(task, now)

    def _choose(self, task: Task, candidates: list[AgentState]) -> AgentState:
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

    def _start(self, task: Task, agent: AgentState) -> None:
        now = self.clock.now()
        task.attempts += 1
        task.lease_token += 1
        task.agent_id = agent.spec.id
        task.started_at = now
        if agent.remote:
            task.lease_expires_at = now + self.config.lease_seconds
            task.lease_deadline = self.due_in(self.config.lease_seconds)
        else:
            task.lease_expires_at = task.lease_deadline = None
        self._set_state(task, TaskState.RUNNING, now)
        agent.running += 1
        for name, amount in task.resources.items():
            agent.resources_in_use[name] = agent.resources_in_use.get(name, 0.0) + amount
        waited = now - task.ready_at if task.ready_at is not None else 0.0
        task.ready_at = None
        self._event("task.running", task, {"attempt": task.attempts, "waited": round(waited, 6)})
        if task.timeout is not None:
            self.timers.add(self.due_in(task.timeout), TimerKind.TIMEOUT, task.id, task.lease_token)
        if task.lease_deadline is not None:
            self.timers.add(task.lease_deadline, TimerKind.LEASE, task.id, task.lease_token)
        else:
            self.journal.after_commit(partial(self._launch, task, task.lease_token))

    def _launch(self, task: Task, token: int) -> None:
        if task.state is not TaskState.RUNNING or task.lease_token != token:
            return  # cancelled or timed out before its lease was durable
        assert task.agent_id is not None
        attempt = Attempt(
            task.id,
            task.type,
            task.payload,
            task.attempts,
            token,
            task.agent_id,
            task.complexity,
            task.deadline,
            task.resources,
        )
        self.executor.start(attempt, self._on_report)

    def _on_report(self, task_id: str, token: int, result: AttemptResult) -> None:
        try:
            self.finish(task_id, token, result)
        except StaleLeaseError as exc:
            log.debug("ignored a stale local result: %s", exc)

    # ------------------------------------------------------------------ completion
    def finish(self, task_id: str, token: int, result: AttemptResult) -> Task:
        """Record an attempt's outcome; a stale token raises StaleLeaseError."""
        task = self._current(task_id, token)
        now = self.clock.now()
        self._release_slot(task)
        self._record(task, result.outcome, now, result.error_kind, result.error_message, result)
        if result.outcome is Outcome.SUCCEEDED:
            task.result, task.error_kind, task.error_message = result.result, None, None
            self._terminal(task, TaskState.SUCCEEDED, now)
        else:
            task.error_kind = result.error_kind or str(result.outcome)
            task.error_message = result.error_message
            self._after_failure(task, result.outcome, result.retryable, now)
        return task

    async def complete(self, task_id: str, token: int, result: AttemptResult) -> Task:
        """:meth:`finish`, then wait until the outcome is durable. During a storage outage
        it is refused before anything changes, so the caller can send it again."""
        self.journal.check_writable()
        task = self.finish(task_id, token, result)
        await self.journal.commit()
        return task

    def _current(self, task_id: str, token: int) -> Task:
        task = self.tasks.get(task_id)
        if task is None or task.state is not TaskState.RUNNING or task.lease_token != token:
            state = task.state if task is not None else "finished or unknown"
            raise StaleLeaseError(  # naming the current token would hand it to the caller
                f"lease {token} of task {task_id} is not current (task is {state}); nothing "
                "was recorded. Lease the task again"
            )
        return task

    def _release_slot(self, task: Task) -> None:
        agent = self.agents.get(task.agent_id or "")
        if agent is None:
            return
        agent.running = max(0, agent.running - 1)
        for name, amount in task.resources.items():
            agent.resources_in_use[name] = max(0.0, agent.resources_in_use.get(name, 0.0) - amount)
        task.lease_expires_at = task.lease_deadline = None
        self._schedule_dispatch()

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
        try:
            self.policy.observe(execution)
        except Exception:
            log.exception("selection policy failed to learn from an execution")

    def _after_failure(self, task: Task, outcome: Outcome, retryable: bool, now: float) -> None:
        charged = task.attempts - task.restarts  # attempts lost to restarts are not charged
        if should_retry(charged, task.max_attempts, retryable):
            delay = self.config.retry.delay(charged, self.rng.random())
            task.not_before = now + delay
            self._event(
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

    def _terminal(self, task: Task, state: TaskState, now: float) -> None:
        """End ``task`` and everything that depended on it (iteratively, for long chains)."""
        stack: list[tuple[Task, TaskState]] = [(task, state)]
        while stack:
            current, final = stack.pop()
            self.queues.remove(current.id)
            self._parked.pop(current.id, None)
            self._rekey_at.pop(current.id, None)
            self._unmet.pop(current.id, None)
            current.finished_at = now
            current.lease_expires_at = current.lease_deadline = None
            self._set_state(current, final, now)
            data: dict[str, object] | None = None
            if final is not TaskState.SUCCEEDED:
                data = {"error_kind": current.error_kind, "error": current.error_message}
            self._event(f"task.{final}", current, data)
            self.journal.after_commit(partial(self._forget, current))
            for dep_id in self._dependents.pop(current.id, []):
                dependent = self.tasks.get(dep_id)
                if dependent is None or dependent.state is not TaskState.PENDING:
                    continue
                if final is TaskState.SUCCEEDED:
                    self._dependency_done(dependent, now)
                else:
                    self._describe_dependency_failure(dependent, current.id, final)
                    stack.append((dependent, self._propagated_state(final)))

    def _dependency_done(self, task: Task, now: float) -> None:
        left = self._unmet.get(task.id, 1) - 1
        if left > 0:
            self._unmet[task.id] = left
            return
        self._unmet.pop(task.id, None)
        self.make_ready(task, now)
        self._event("task.queued", task, {"score": round(task.score, 2)})

    @staticmethod
    def _propagated_state(cause: TaskState) -> TaskState:
        return TaskState.CANCELLED if cause is TaskState.CANCELLED else TaskState.FAILED

    @staticmethod
    def _describe_dependency_failure(task: Task, dep: str, state: TaskState | None) -> None:
        if state is TaskState.CANCELLED:
            task.error_kind = "dependency_cancelled"
        else:
            task.error_kind = "dependency_failed"
        task.error_message = f"dependency {dep} ended {state or 'unknown'}"

    def _fail_dependent(self, task: Task, dep: str, state: TaskState | None, now: float) -> None:
        self._describe_dependency_failure(task, dep, state)
        final = self._propagated_state(state) if state is not None else TaskState.FAILED
        self._terminal(task, final, now)

    def _forget(self, task: Task) -> None:
        if self.tasks.get(task.id) is task and task.state.is_terminal:
            del self.tasks[task.id]
            for fut in self._waiters.pop(task.id, []):
                if not fut.done():
                    fut.set_result(task)
            self._check_idle()

    def _check_idle(self) -> None:
        if not self.tasks:
            self._idle.set()

    async def wait_idle(self) -> None:
        """Wait until no task is active and every outcome is durable."""
        await self._idle.wait()

    async def wait_for(self, task_id: str) -> Task:
        """Wait until ``task_id`` has ended and its end is durable."""
        while task_id not in self.tasks:
            stored = await self.store.get_task(task_id)
            if stored is None:
                raise NotFoundError(f"no task with id {task_id}")
            if task_id in self.tasks:
                break  # admitted while the store was read
            if stored.state.is_terminal:
                return stored
            if self.failed.is_set() or self.stopped.is_set():
                raise JournalClosedError("the scheduler stopped before the task ended")
            await asyncio.sleep(self.config.poll_interval)  # submitted, not admitted yet
        fut: asyncio.Future[Task] = asyncio.get_running_loop().create_future()
        waiters = self._waiters.setdefault(task_id, [])
        waiters.append(fut)
        try:
            return await fut
        finally:
            if fut in waiters:
                waiters.remove(fut)

    # ------------------------------------------------------------------ state helpers
    def _set_state(self, task: Task, state: TaskState, now: float) -> None:
        assert task.state is state or can_transition(task.state, state), (
            f"task {task.id}: {task.state} -> {state} is not a transition of the state machine"
        )
        task.state = state
        task.updated_at = now
        self.journal.update(task)

    def _event(
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

    def _is_remote(self, agent_id: str | None) -> bool:
        agent = self.agents.get(agent_id or "")
        return agent is not None and agent.remote

    # ------------------------------------------------------------------ timers
    def due_in(self, seconds: float) -> float:
        """The monotonic time ``seconds`` from now, for a timer or a lease deadline."""
        return self.clock.monotonic() + seconds

    def process_timers(self) -> None:
        now = self.clock.now()
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
                    self._time_out(task, now)
                else:
                    self._check_lease(task, now)

    def _time_out(self, task: Task, now: float) -> None:
        if not self._is_remote(task.agent_id):
            self.executor.cancel(task.id)
        message = f"attempt ran longer than the task's timeout of {task.timeout}s"
        self.finish(
            task.id,
            task.lease_token,
            AttemptResult(Outcome.TIMED_OUT, error_kind="timeout", error_message=message),
        )

    def _check_lease(self, task: Task, now: float) -> None:
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

    # ------------------------------------------------------------------ cancellation
    async def cancel(self, task_id: str) -> Task:
        self.journal.check_writable()
        task = self.tasks.get(task_id)
        if task is None:
            stored = await self.store.get_task(task_id)
            if stored is None:
                raise NotFoundError(f"no task with id {task_id}")
            if stored.state is TaskState.SUBMITTED:
                await self.store.request_cancel(task_id, self.clock.now())
                return stored
            raise ConflictError(f"task {task_id} already ended {stored.state}; nothing to cancel")
        self.cancel_now(task)
        await self.journal.commit()
        return task

    def cancel_now(self, task: Task) -> None:
        if task.state.is_terminal:
            raise ConflictError(f"task {task.id} already ended {task.state}; nothing to cancel")
        now = self.clock.now()
        if task.state is TaskState.RUNNING:
            if not self._is_remote(task.agent_id):
                self.executor.cancel(task.id)
            self._release_slot(task)
            self._record(task, Outcome.CANCELLED, now, "cancelled", "cancelled by request")
        task.error_kind, task.error_message = "cancelled", "cancelled by request"
        self._terminal(task, TaskState.CANCELLED, now)

    async def requeue(self, task_id: str, attempts: int = 1) -> Task:
        """Give a dead-lettered task (dead, timed_out, failed) ``attempts`` more attempts."""
        if attempts < 1:
            raise ValidationError("attempts must be at least 1")
        self.journal.check_writable()
        if task_id in self.tasks:
            raise ConflictError(f"task {task_id} is still {self.tasks[task_id].state}")
        task = await self.store.get_task(task_id)
        if task is None:
            raise NotFoundError(f"no task with id {task_id}")
        if task_id in self.tasks:  # requeued by another call while the store was read
            raise ConflictError(f"task {task_id} is already {self.tasks[task_id].state}")
        if task.state not in (TaskState.DEAD, TaskState.TIMED_OUT, TaskState.FAILED):
            raise ConflictError(
                f"only dead, timed_out or failed tasks can be retried; {task_id} is {task.state}"
            )
        task.max_attempts = task.attempts + attempts
        task.finished_at = task.not_before = None
        known = await self._dependency_states(task.depends_on)
        if task_id in self.tasks:
            raise ConflictError(f"task {task_id} is already {self.tasks[task_id].state}")
        self.admit(task, known)
        await self.journal.commit()
        return task

    # ------------------------------------------------------------------ remote agents
    async def lease(self, agent_id: str, max_tasks: int = 1, wait: float = 0.0) -> list[Lease]:
        """Hand up to ``max_tasks`` tasks to a remote agent, waiting up to ``wait`` seconds."""
        return await remote.lease(self, agent_id, max_tasks, wait)

    async def heartbeat(self, agent_id: str, task_id: str, token: int) -> float:
        """Extend a lease; returns the new expiry. A stale token raises StaleLeaseError."""
        return await remote.heartbeat(self, agent_id, task_id, token)

    # ------------------------------------------------------------------ agents
    @property
    def min_levels(self) -> dict[str, int]:
        """Task type -> the custody level an agent needs to be routed a task of it."""
        return self._min_levels

    @min_levels.setter
    def min_levels(self, levels: dict[str, int]) -> None:
        self._min_levels = dict(levels)
        self.queues.regate(self._min_levels)  # gated types queue apart (see queues.py)
        self._serving.clear()
        self._placeable.clear()
        self._unpark()
        if self._dispatching:
            self._schedule_dispatch()

    def qualified(self, agent: AgentState, task: Task) -> bool:
        """The agent's custody level meets what the task type requires (a task pinned to
        an agent is that agent's, whatever its level: e.g. its own custody test)."""
        if task.pinned_agent is not None or not self.min_levels:
            return True
        need = self.min_levels.get(task.type)
        return need is None or self.levels.get(agent.spec.id, 1) >= need

    def set_custody_levels(self, levels: dict[str, int]) -> None:
        """New custody levels (from the custody protocol); waiting work is re-examined."""
        self.levels.update(levels)
        self._placeable.clear()
        self._unpark()
        self._schedule_dispatch()

    def apply_agent(self, spec: AgentSpec) -> None:
        """Bring the in-memory agent table in line with a stored agent."""
        from imperium.services.engine.recovery import apply_agent

        apply_agent(self, spec)
        self._serving.clear()
        self._placeable.clear()
        self._unpark()
        self._schedule_dispatch()
