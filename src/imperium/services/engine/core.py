"""The engine: the scheduler's lifecycle, its loops, and the operations callers use.

What the scheduler holds in memory and how it changes is :class:`SchedulerState`
(state.py); this module drives it. The dispatch loop is :meth:`Engine._dispatch`: it asks
the state for the best ready task an in-process agent can start, starts it, and launches
the attempt once its lease is durable. Every change is marked in the :class:`Journal`;
what the outside world can observe (an acknowledgement, an attempt starting, a lease
handed out) happens only after the journal has made it durable.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial

from imperium.domain.errors import (
    ConflictError,
    NotFoundError,
    StaleLeaseError,
    ValidationError,
)
from imperium.domain.models import AgentSpec, AgentState, AttemptResult, Task
from imperium.domain.retry import RetryPolicy
from imperium.domain.selection import LeastLoaded, SelectionPolicy
from imperium.domain.specs import (
    TaskSpec,
    WorkflowSpec,
    build_task,
    check_dependencies,
    check_pinned_agent,
    external_dependencies,
    plan_workflow,
    validate_task_spec,
)
from imperium.domain.states import Outcome, TaskState
from imperium.domain.teams import TeamRun
from imperium.ports import Attempt, Clock, EventSink, Executor, Rng, SchedulerStore
from imperium.services.budgets import BudgetSource
from imperium.services.engine import recovery, remote
from imperium.services.engine.cache import ResultCache
from imperium.services.engine.census import Snapshot
from imperium.services.engine.journal import (
    Journal,
    JournalClosedError,
    describe_storage_error,
    is_storage_failure,
)
from imperium.services.engine.lock import SchedulerLock
from imperium.services.engine.remote import Lease
from imperium.services.engine.state import SchedulerState

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


class Engine:
    def __init__(
        self,
        store: SchedulerStore,
        executor: Executor,
        lock: SchedulerLock,
        clock: Clock,
        rng: Rng,
        new_id: Callable[[], str],
        config: EngineConfig | None = None,
        policy: SelectionPolicy | None = None,
        json_problem: Callable[[object], str | None] | None = None,
        events: EventSink | None = None,
        result_cache: ResultCache | None = None,
    ) -> None:
        self.store = store
        self.executor = executor
        self.lock = lock
        self.clock = clock
        self.new_id = new_id
        self.config = config or EngineConfig()
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
        self.journal.on_fatal = self._on_journal_failure
        self.state = SchedulerState(
            self.journal,
            clock,
            rng,
            policy or LeastLoaded(),
            self.config.retry,
            self.config.lease_seconds,
            self.config.max_restarts,
        )
        self.state.wake = self._wake
        self.state.stop_attempt = lambda task: executor.cancel(task.id)
        self.state.ended = self._ended
        self.poller = recovery.Poller(self)
        self.result_cache = result_cache
        """Serves the results of task types that opted in (see :meth:`_launch_cached`)."""
        self._cache_versions: dict[str, tuple[int, str, str]] = {}
        """Task id -> (lease token, cache key, agent config version) of a cacheable
        attempt that missed the cache and runs: its result is stored under that key."""
        self._lookups: set[asyncio.Task[None]] = set()
        self.budget_source: BudgetSource | None = None
        """Reads, at start, each agent's tokens and cost since a time and the agents
        whose ``agent.budget_spent`` event was written since then (set by the wiring)."""
        self._waiters: dict[str, list[asyncio.Future[Task]]] = {}
        self.ready_signal = asyncio.Event()  # wakes lease long-polls
        self._dispatching = False
        self._dispatch_scheduled = False
        self._loops: list[asyncio.Task[None]] = []
        self._writer: asyncio.Task[None] | None = None
        self.stopped = asyncio.Event()
        self.failed = asyncio.Event()  # set when the scheduler can no longer write

    # ------------------------------------------------------------------ reading
    def snapshot(self) -> Snapshot:
        """The scheduler as it is now: agents, active tasks, counts and a census."""
        return self.state.snapshot()

    @property
    def dispatching(self) -> bool:
        """Handing out work: started, not stopping, and the database takes writes."""
        return self._dispatching and self.journal.outage is None

    def scheduler_status(self, holder: str | None) -> str:
        """``running`` (``holder``, the lock's owner as stored, is this scheduler),
        ``standby`` (another holds it), ``stopped`` or ``failed``."""
        if self.failed.is_set():
            return "failed"
        if self.stopped.is_set():
            return "stopped"
        return "running" if holder == self.lock.owner else "standby"

    @property
    def policy(self) -> SelectionPolicy:
        return self.state.policy

    # ------------------------------------------------------------------ lifecycle
    async def start(self, *, standby: bool = False) -> None:
        """Take the scheduler lock, rebuild state from the database, start dispatching."""
        await self.lock.acquire(wait=standby)
        self.journal.lock_expires_at = self.lock.expires_at
        await recovery.recover(self)
        await self.journal.flush()
        self._writer = asyncio.create_task(self.journal.run(self.config.lock_ttl / 3))
        self._loops = [
            asyncio.create_task(self._tick_loop()),
            asyncio.create_task(self._poll_loop()),
        ]
        self._dispatching = True
        self._schedule_dispatch()
        if not self.state.tasks:
            self.state.idle.set()

    def stop_dispatching(self) -> None:
        """Hand out nothing new from now on; waiting lease long-polls return at once."""
        self._dispatching = False
        self.ready_signal.set()

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
        while self.state.local_running() and loop.time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.02)  # attempts end on their own; poll until drained
        for loop_task in self._loops:
            loop_task.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        for task in self.state.local_running():
            self.state.interrupt(task)
        for lookup in list(self._lookups):
            lookup.cancel()  # their tasks were interrupted above: nothing left to serve
        self.state.event("scheduler.stopped", data={"owner": self.lock.owner})
        self.journal.stop()
        if self._writer is not None:
            await asyncio.gather(self._writer, return_exceptions=True)
        if self.journal.failed is None:
            await self.lock.release()
        await self.executor.close()
        if self.result_cache is not None:
            await self.result_cache.drain()
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
        self.ready_signal.set()

    def _on_storage_recovered(self, cause: str, seconds: float) -> None:
        self.state.event(
            "scheduler.storage_recovered",
            data={"owner": self.lock.owner, "cause": cause, "seconds": round(seconds, 3)},
        )
        self._wake()

    def process_timers(self) -> None:
        """Act on the timers that fell due (the tick loop calls this every ``tick``)."""
        self.state.process_timers()

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.tick)
            try:
                self.process_timers()
            except Exception:
                log.exception("timer processing failed")

    async def _poll_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.poll_interval)
            if self.journal.outage is not None:
                continue  # the database does not answer: nothing to pick up, no log flood
            try:
                await self.poller.poll()
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
        known = await self.dependency_states(d for s in specs for d in s.depends_on)
        check_dependencies((d for s in specs for d in s.depends_on), known)
        now = self.clock.now()
        tasks = [build_task(spec, self.new_id(), now, spec.depends_on) for spec in specs]
        for task in tasks:
            self.journal.insert(task)
            self.state.admit(task, known)
        await self.journal.commit()
        return tasks

    async def submit_workflow(
        self, workflow: WorkflowSpec, team: TeamRun | None = None
    ) -> tuple[str, list[Task]]:
        """Admit a workflow; a cycle or an unknown dependency is refused with its names.
        ``team``'s row, its ``task_ids`` filled in, is written in the same batch."""
        self.journal.check_writable()
        for spec in workflow.tasks:
            self._validate(spec)
        known = await self.dependency_states(external_dependencies(workflow))
        plan = plan_workflow(workflow, known, self.new_id, self.clock.now())
        for task in plan.tasks:
            self.journal.insert(task)
            self.state.admit(task, known)
        if team is not None:
            self.journal.team(replace(team, task_ids=plan.named_ids))
        await self.journal.commit()
        return plan.workflow_id, plan.named

    def _validate(self, spec: TaskSpec) -> None:
        validate_task_spec(spec)
        if self._json_problem is not None and (problem := self._json_problem(spec.payload)):
            raise ValidationError(f"the payload cannot be stored as JSON: {problem}")
        if spec.pinned_agent is not None:
            agent = self.state.agents.get(spec.pinned_agent)
            check_pinned_agent(spec, None if agent is None else agent.spec.status)

    async def dependency_states(self, ids: Iterable[str]) -> dict[str, TaskState]:
        """States of the given tasks as they are when this returns.

        Tasks not in memory are read from the store. One that is in memory may end (and
        be forgotten once its end is committed) while the store is read: it is then read
        from the store too, until nothing asked for has moved.
        """
        active = self.state.tasks
        wanted = set(ids)
        asked: set[str] = set()
        fetched: dict[str, TaskState] = {}
        while missing := [i for i in wanted if i not in active and i not in asked]:
            asked.update(missing)
            fetched.update(await self.store.task_states(missing))
        known = {i: active[i].state for i in wanted if i in active}
        known.update({i: s for i, s in fetched.items() if i not in known})
        return known

    # ------------------------------------------------------------------ dispatch
    def _wake(self) -> None:
        """Work may be startable: dispatch soon, and wake lease long-polls."""
        self.ready_signal.set()
        self._schedule_dispatch()

    def _schedule_dispatch(self) -> None:
        if self.dispatching and not self._dispatch_scheduled:
            self._dispatch_scheduled = True
            asyncio.get_running_loop().call_soon(self._dispatch)

    def _dispatch(self) -> None:
        """Start the best ready task on an in-process agent, until none can start."""
        self._dispatch_scheduled = False
        if not self.dispatching:
            return  # stopped, or paused while the database takes no writes
        state = self.state
        while (found := state.next_ready(_in_process)) is not None:
            task, candidates = found
            state.start(task, state.choose(task, candidates))
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
        if self._cacheable(task):
            lookup = asyncio.get_running_loop().create_task(self._launch_cached(task, attempt))
            self._lookups.add(lookup)
            lookup.add_done_callback(self._lookups.discard)
            return
        self.executor.start(attempt, self._on_report)

    def _cacheable(self, task: Task) -> bool:
        """Whether ``task`` is looked up in the result cache: its type opted in, and it
        names no agent. A pinned task asks for that agent's own answer: a custody test
        (its grade is the agent's XP) or a team member (members answer independently,
        and the team router learns from their outcomes) must not get a stored one."""
        cache = self.result_cache
        return cache is not None and cache.covers(task.type) and task.pinned_agent is None

    async def _launch_cached(self, task: Task, attempt: Attempt) -> None:
        """A task of a type that opted in to the cache, leased to an in-process agent:
        its result comes from the cache when there is one for this payload and the
        agent's configuration, else the agent runs (the lease, slot and timeout timer
        are already the task's either way, so capacity and timeouts hold meanwhile)."""
        if await self._serve_from_cache(task, attempt.token):
            return
        if task.state is TaskState.RUNNING and task.lease_token == attempt.token:
            self.executor.start(attempt, self._on_report)

    async def _serve_from_cache(self, task: Task, token: int) -> bool:
        """Look ``task`` up; on a hit end it with the stored result. True when it no
        longer needs its agent (served, or ended otherwise while the store was read)."""
        cache, agent = self.result_cache, self.state.agents.get(task.agent_id or "")
        if cache is None or agent is None:
            return False
        keyed = cache.key(task.type, task.payload, agent.spec)
        if keyed is None:
            return False  # not expressible as a key: runs uncached, and is not stored
        hit = await cache.lookup(keyed[0])
        if task.state is not TaskState.RUNNING or task.lease_token != token:
            return True  # cancelled, timed out or interrupted meanwhile: nothing to do
        cache.counted(task.type, hit)
        if hit is None:
            self._cache_versions[task.id] = (token, *keyed)
            return False
        self.state.serve_cached(task, hit)
        return True

    async def serve_cached(self, tasks: Sequence[Task]) -> None:
        """Remote leases: end those of ``tasks`` (just started) whose results are in the
        cache, before the lease is handed out. Returns at once when none is cacheable."""
        cache = self.result_cache
        if cache is None:
            return
        cacheable = [t for t in tasks if self._cacheable(t)]
        if cacheable:
            await asyncio.gather(*(self._serve_from_cache(t, t.lease_token) for t in cacheable))

    def _on_report(self, task_id: str, token: int, result: AttemptResult) -> None:
        try:
            task = self.state.finish(task_id, token, result)
        except StaleLeaseError as exc:
            log.debug("ignored a stale local result: %s", exc)
            return
        self._remember(task, token, result)

    def _remember(self, task: Task, token: int, result: AttemptResult) -> None:
        """A cacheable attempt that ran: a success is stored once it is durable."""
        if not self._cache_versions:
            return
        ran = self._cache_versions.pop(task.id, None)
        if ran is None or ran[0] != token or result.outcome is not Outcome.SUCCEEDED:
            return
        assert self.result_cache is not None
        store = partial(
            self.result_cache.remember, ran[1], task.type, ran[2], task.agent_id,
            result.result, result.tokens, result.cost,
        )  # fmt: skip
        self.journal.after_commit(store)

    # ------------------------------------------------------------------ completion
    def finish(self, task_id: str, token: int, result: AttemptResult) -> Task:
        """Record an attempt's outcome; a stale token raises StaleLeaseError."""
        return self.state.finish(task_id, token, result)

    async def complete(self, task_id: str, token: int, result: AttemptResult) -> Task:
        """:meth:`finish`, then wait until the outcome is durable. During a storage outage
        it is refused before anything changes, so the caller can send it again."""
        self.journal.check_writable()
        task = self.state.finish(task_id, token, result)
        self._remember(task, token, result)
        await self.journal.commit()
        return task

    def _ended(self, task: Task) -> None:
        if self._cache_versions:
            self._cache_versions.pop(task.id, None)
        for fut in self._waiters.pop(task.id, []):
            if not fut.done():
                fut.set_result(task)

    async def wait_idle(self) -> None:
        """Wait until no task is active and every outcome is durable."""
        await self.state.idle.wait()

    async def wait_for(self, task_id: str) -> Task:
        """Wait until ``task_id`` has ended and its end is durable."""
        active = self.state.tasks
        while task_id not in active:
            stored = await self.store.get_task(task_id)
            if stored is None:
                raise NotFoundError(f"no task with id {task_id}")
            if task_id in active:
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

    # ------------------------------------------------------------------ cancellation
    async def cancel(self, task_id: str) -> Task:
        self.journal.check_writable()
        task = self.state.tasks.get(task_id)
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
        self.state.cancel(task)

    async def requeue(self, task_id: str, attempts: int = 1) -> Task:
        """Give a dead-lettered task (dead, timed_out, failed) ``attempts`` more attempts."""
        if attempts < 1:
            raise ValidationError("attempts must be at least 1")
        self.journal.check_writable()
        active = self.state.tasks
        if task_id in active:
            raise ConflictError(f"task {task_id} is still {active[task_id].state}")
        task = await self.store.get_task(task_id)
        if task is None:
            raise NotFoundError(f"no task with id {task_id}")
        if task_id in active:  # requeued by another call while the store was read
            raise ConflictError(f"task {task_id} is already {active[task_id].state}")
        if task.state not in (TaskState.DEAD, TaskState.TIMED_OUT, TaskState.FAILED):
            raise ConflictError(
                f"only dead, timed_out or failed tasks can be retried; {task_id} is {task.state}"
            )
        task.max_attempts = task.attempts + attempts
        task.finished_at = task.not_before = None
        known = await self.dependency_states(task.depends_on)
        if task_id in active:
            raise ConflictError(f"task {task_id} is already {active[task_id].state}")
        self.state.admit(task, known)
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
        return self.state.min_levels

    @min_levels.setter
    def min_levels(self, levels: dict[str, int]) -> None:
        self.state.min_levels = levels

    def custody_level(self, agent_id: str) -> int:
        """The agent's custody level as routing sees it (1 when never tested)."""
        return self.state.levels.get(agent_id, 1)

    def set_custody_levels(self, levels: dict[str, int], announce: bool = False) -> None:
        """New custody levels (from the custody protocol); waiting work is re-examined.
        ``announce``: each change is recorded as an ``agent.custody_level`` event."""
        self.state.set_custody_levels(levels, announce)

    def apply_agent(self, spec: AgentSpec) -> None:
        """Bring the in-memory agent table in line with a stored agent."""
        recovery.apply_agent(self, spec)


def _in_process(agent: AgentState) -> bool:
    return not agent.remote
