"""Agents on a Ray cluster (runtime ``ray``, the ``ray`` extra, imported lazily).

A stateless agent runs each attempt as a Ray task; a stateful one (``"stateful": true``
in its config) on a pool of ``max_concurrency`` Ray actors, created when first needed and
replaced when one dies. A task's resources become the Ray task's request
(``ray_requests``); an actor, made before any task, requests its agent's
``"actor_resources"`` (e.g. ``{"gpu": 1}``; none: no CPU held while it waits).

Ray owns no task state: Ray's own retries are off, and every outcome is reported to the
engine through the same callback the in-process executor uses, so it lands in the same
execution rows. A worker, actor or node that dies mid-attempt makes the attempt ``lost``
(``error_kind`` ``ray_worker_died`` and the like), retried by the engine like any other;
an actor whose agent's constructor raised fails the attempt instead (not retried: the
same config raises again).
Cancellation and timeouts stop the Ray task (``ray.cancel(force=True)``) or kill the
actor running it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from imperium.adapters.executors import _ray_worker
from imperium.adapters.executors.local import to_failure
from imperium.adapters.executors.ray_connection import RayConnection, connect_ray
from imperium.adapters.executors.ray_requests import ray_options, shortfall, unrequestable
from imperium.agents.loader import load_agent_class
from imperium.domain.errors import AgentLoadError
from imperium.domain.models import AgentSpec, AttemptResult
from imperium.domain.states import Outcome
from imperium.ports import Attempt, AttemptReporter

log = logging.getLogger(__name__)

CAPACITY_REFRESH_SECONDS = 5.0
# An actor whose agent's constructor raised: a failed attempt, not a lost one
ACTOR_INIT_FAILED = "ray_actor_init_failed"

# Ray's errors for a process or node that went away, and the error_kind each becomes
_LOST_KINDS = {
    "WorkerCrashedError": "ray_worker_died",
    "RayActorError": "ray_actor_died",
    "ActorDiedError": "ray_actor_died",
    "ActorUnavailableError": "ray_actor_died",
    "NodeDiedError": "ray_node_died",
    "ObjectLostError": "ray_object_lost",
    "OwnerDiedError": "ray_object_lost",
    "ObjectReconstructionFailedError": "ray_object_lost",
    "OutOfMemoryError": "ray_out_of_memory",
}


def lost_kind(exc: BaseException) -> str | None:
    """The error_kind of a lost attempt for a Ray error about a dead process or node."""
    for cls in type(exc).__mro__:
        if cls.__name__ in _LOST_KINDS:
            return _LOST_KINDS[cls.__name__]
    return None


@dataclass(eq=False)
class _Running:
    ref: Any
    actor: Any = None
    pool: _ActorPool | None = None
    waiter: asyncio.Task[None] | None = None
    alive: Any = None  # a reused actor's liveness check, sent just before the attempt


class _ActorPool:
    """Up to ``size`` actors of one agent; each runs one attempt at a time."""

    def __init__(self, make: Any, size: int) -> None:
        self._make = make
        self.size = size
        self._idle: list[Any] = []
        self._busy = 0

    def take(self) -> tuple[Any, bool]:
        """An actor for one attempt, and whether it ran attempts before (it may have died
        since, while idle)."""
        reused = bool(self._idle)
        actor = self._idle.pop() if reused else self._make()
        self._busy += 1  # counted once the actor exists: a failed creation holds nothing
        return actor, reused

    def give_back(self, actor: Any) -> None:
        self._busy -= 1
        if len(self._idle) + self._busy < self.size:
            self._idle.append(actor)

    def discard(self, ray: Any, actor: Any) -> None:
        """The actor died or is being stopped; a fresh one replaces it when next needed."""
        self._busy -= 1
        ray.kill(actor, no_restart=True)

    def resize(self, ray: Any, size: int) -> None:
        """A new ``max_concurrency``: idle actors beyond it are stopped (busy ones are not
        given back once the pool is full), a larger pool keeps the actors it has."""
        self.size = size
        while self._idle and len(self._idle) + self._busy > size:
            ray.kill(self._idle.pop(), no_restart=True)

    def drop_idle(self, ray: Any) -> None:
        """Stop the idle actors (an actor of this pool died: its node or its neighbours may
        have too); fresh ones are made when next needed."""
        self.close(ray)

    def close(self, ray: Any) -> None:
        for actor in self._idle:
            ray.kill(actor, no_restart=True)
        self._idle.clear()


class RayExecutor:
    def __init__(self, address: str = "local", num_cpus: int = 2) -> None:
        self._ray: Any = None
        self._agent_fns: dict[str, Any] = {}  # agent id -> its Ray remote function
        self._task_fns: dict[tuple[str, tuple[tuple[str, float], ...]], Any] = {}
        self._actor_cls: Any = None
        self._specs: dict[str, AgentSpec] = {}
        self._pools: dict[str, _ActorPool] = {}
        self._running: dict[str, _Running] = {}
        self._nodes: list[dict[str, float]] = []  # the resources of each alive node
        self._nodes_at = 0.0
        self._nodes_changed = False  # sticky until capacity_changed() reports it
        self._refreshing: asyncio.Task[None] | None = None
        self._connection = RayConnection(address, num_cpus, self._open)
        self._connection.on_connected = self._connected
        self._first_nodes: list[dict[str, float]] = []
        self._waiting: set[str] = set()  # agents refused while Ray was not connected

    def _open(self, address: str, num_cpus: int) -> Any:
        """Connect and read the nodes: blocking calls, made in a worker thread."""
        ray = connect_ray(address, num_cpus)
        self._first_nodes = alive_nodes(ray)
        return ray

    def _connected(self, ray: Any) -> None:
        self._actor_cls = ray.remote(max_restarts=0, max_task_retries=0)(_ray_worker.AgentActor)
        self._ray = ray
        self._set_nodes(self._first_nodes)

    # ------------------------------------------------------------------ agents
    def prepare(self, spec: AgentSpec) -> None:
        load_agent_class(spec.type)  # the driver must find it too: an error says so here
        stateful = spec.config.get("stateful") is True
        options = ray_options(_actor_resources(spec), default_cpus=0) if stateful else {}
        if self._connection.ensure() is None:  # not blocking the loop: retried when connected
            self._waiting.add(spec.id)
            raise AgentLoadError(f"{self._connection.reason}; the agent loads once connected")
        self.forget(spec.id)
        self._specs[spec.id] = spec
        if stateful:
            config = dict(spec.config)
            self._pools[spec.id] = _ActorPool(
                lambda: self._actor_cls.options(**options).remote(spec.type, config),
                spec.max_concurrency,
            )

    def update(self, spec: AgentSpec) -> None:
        """The agent changed in what needs no reload (``max_concurrency``): its actor pool
        takes the new size."""
        if spec.id not in self._specs:
            return
        self._specs[spec.id] = spec
        pool = self._pools.get(spec.id)
        if pool is not None:
            pool.resize(self._ray, spec.max_concurrency)

    def reloadable(self) -> list[str]:
        """The agents refused while Ray was not connected, once it is."""
        if self._ray is None or not self._waiting:
            return []
        agent_ids, self._waiting = sorted(self._waiting), set()
        return agent_ids

    def forget(self, agent_id: str) -> None:
        self._waiting.discard(agent_id)
        self._specs.pop(agent_id, None)
        self._agent_fns.pop(agent_id, None)
        for key in [k for k in self._task_fns if k[0] == agent_id]:
            del self._task_fns[key]
        pool = self._pools.pop(agent_id, None)
        if pool is not None:
            pool.close(self._ray)

    # ------------------------------------------------------------------ attempts
    def start(self, attempt: Attempt, report: AttemptReporter) -> None:
        spec = self._specs.get(attempt.agent_id)
        if spec is None:
            report(attempt.task_id, attempt.token, _unavailable(attempt.agent_id))
            return
        try:
            running = self._submit(spec, attempt)
        except Exception as exc:  # a request Ray refuses, a dropped ray:// connection...
            log.warning("could not submit task %s to Ray: %s", attempt.task_id, exc)
            report(attempt.task_id, attempt.token, _submit_failed(exc))
            return
        self._running[attempt.task_id] = running
        loop = asyncio.get_running_loop()
        running.waiter = loop.create_task(self._wait(attempt, running, report))

    def _submit(self, spec: AgentSpec, attempt: Attempt) -> _Running:
        fields = _fields(attempt)
        pool = self._pools.get(attempt.agent_id)
        if pool is None:
            return _Running(self._task_for(spec, attempt.resources).remote(fields))
        actor, reused = pool.take()
        try:
            # an idle actor may have died since its last attempt: checked first, in order
            alive = actor.alive.remote() if reused else None
            return _Running(actor.run.remote(fields), actor, pool, alive=alive)
        except BaseException:
            pool.discard(self._ray, actor)
            raise

    def _task_for(self, spec: AgentSpec, resources: Mapping[str, float]) -> Any:
        """The agent's Ray remote function with this resource request. The agent's type
        and config are bound into the function, shipped to Ray once, so an attempt sends
        only its own fields; ``.options`` is paid once per distinct request."""
        key = (spec.id, tuple(sorted(resources.items())))
        task_fn = self._task_fns.get(key)
        if task_fn is None:
            agent_fn = self._agent_fns.get(spec.id)
            if agent_fn is None:
                bound = _ray_worker.bind(spec.id, spec.type, dict(spec.config))
                agent_fn = self._agent_fns[spec.id] = self._ray.remote(max_retries=0)(bound)
            if len(self._task_fns) > 1000:
                self._task_fns.clear()
            task_fn = agent_fn.options(**ray_options(resources, default_cpus=1))
            self._task_fns[key] = task_fn
        return task_fn

    async def _wait(self, attempt: Attempt, running: _Running, report: AttemptReporter) -> None:
        try:
            if running.alive is not None and not await self._still_alive(running):
                self._replace_actor(running, attempt)
            result = await self._outcome(running.ref)
        except asyncio.CancelledError:
            return  # cancelled here: cancel() stopped it in Ray and reports nothing
        except Exception as exc:  # a fresh actor could not be made
            result = _submit_failed(exc)
        finally:
            if self._running.get(attempt.task_id) is running:
                del self._running[attempt.task_id]
        if running.pool is not None and running.actor is not None:
            if result.outcome is Outcome.LOST or result.error_kind == ACTOR_INIT_FAILED:
                running.pool.discard(self._ray, running.actor)
                running.pool.drop_idle(self._ray)
            else:
                running.pool.give_back(running.actor)
        report(attempt.task_id, attempt.token, result)

    async def _still_alive(self, running: _Running) -> bool:
        """Whether the reused actor answered before the attempt sent to it: one that died
        idle never started it, so the attempt goes to a fresh actor, uncharged."""
        try:
            await running.alive
        except Exception as exc:
            if lost_kind(exc) is None:
                raise
            return False
        return True

    def _replace_actor(self, running: _Running, attempt: Attempt) -> None:
        assert running.pool is not None
        running.pool.discard(self._ray, running.actor)
        running.pool.drop_idle(self._ray)
        running.actor = None  # held by the pool no more, even if no fresh one can be made
        running.actor, _ = running.pool.take()
        running.ref = running.actor.run.remote(_fields(attempt))

    async def _outcome(self, ref: Any) -> AttemptResult:
        ray = self._ray
        try:
            result: AttemptResult = await ref
            return result
        except ray.exceptions.TaskCancelledError as exc:  # not by cancel(): it stops waiting
            return AttemptResult(Outcome.LOST, error_kind="ray_cancelled", error_message=str(exc))
        except ray.exceptions.RayTaskError as exc:  # the agent's setup or loading raised
            return to_failure(exc.cause if exc.cause is not None else exc)
        except Exception as exc:
            if getattr(exc, "actor_init_failed", False):  # the agent's constructor raised
                return AttemptResult(
                    Outcome.FAILED,
                    error_kind=ACTOR_INIT_FAILED,
                    error_message=_last_line(exc),
                    retryable=False,  # the same type and config raise again on a new actor
                )
            kind = lost_kind(exc)
            if kind is None:
                log.warning("a Ray attempt failed: %s", exc)
                return AttemptResult(
                    Outcome.FAILED, error_kind=type(exc).__name__, error_message=str(exc)
                )
            return AttemptResult(Outcome.LOST, error_kind=kind, error_message=_first_line(exc))

    def cancel(self, task_id: str) -> None:
        running = self._running.pop(task_id, None)
        if running is None:
            return
        if running.waiter is not None:
            running.waiter.cancel()
        if running.pool is None:
            self._ray.cancel(running.ref, force=True)
        elif running.actor is not None:  # the attempt's state dies with its actor
            running.pool.discard(self._ray, running.actor)

    def running(self) -> int:
        return len(self._running)

    # ------------------------------------------------------------------ placement
    def unplaceable(self, agent_id: str, resources: Mapping[str, float]) -> str | None:
        """From the node totals last read (never a call to Ray on the dispatch path)."""
        spec = self._specs.get(agent_id)
        if spec is None:
            return None
        if agent_id in self._pools:  # the actor's request must fit as well as the task's
            actor = _actor_resources(spec)
            return (
                unrequestable(actor)
                or shortfall(actor, self._nodes)
                or shortfall(resources, self._nodes)
            )
        return unrequestable(resources) or shortfall(resources, self._nodes)

    def capacity_changed(self) -> bool:
        """Whether the alive nodes' resources changed since last asked. They are re-read
        every few seconds in a thread (a call to Ray's GCS), not on the event loop."""
        if self._ray is None:
            if self._waiting:  # try again, after the last failure's wait
                self._connection.ensure()
            return False
        if not self._specs:
            return False
        now = time.monotonic()
        if now - self._nodes_at >= CAPACITY_REFRESH_SECONDS and self._refreshing is None:
            self._nodes_at = now
            self._refreshing = asyncio.get_running_loop().create_task(self._refresh_nodes())
        changed, self._nodes_changed = self._nodes_changed, False
        return changed

    async def _refresh_nodes(self) -> None:
        try:
            self._set_nodes(await asyncio.to_thread(alive_nodes, self._ray))
        except Exception as exc:  # the cluster may be unreachable for a while: keep the last
            log.warning("could not read the Ray cluster's nodes: %s", exc)
        finally:
            self._refreshing = None

    def _set_nodes(self, nodes: list[dict[str, float]]) -> None:
        if nodes != self._nodes:
            self._nodes = nodes
            self._nodes_changed = True
        self._nodes_at = time.monotonic()

    async def close(self) -> None:
        self._connection.close()
        if self._refreshing is not None:
            self._refreshing.cancel()
        for task_id in list(self._running):
            self.cancel(task_id)
        for agent_id in list(self._pools):
            self.forget(agent_id)
        self._specs.clear()


def alive_nodes(ray: Any) -> list[dict[str, float]]:
    """The resources of each alive node of the cluster (``ray.nodes()``), sorted so that
    the same cluster reads the same."""
    nodes = [
        {str(k): float(v) for k, v in node.get("Resources", {}).items()}
        for node in ray.nodes()
        if node.get("Alive")
    ]
    return sorted(nodes, key=lambda n: sorted(n.items()))


def _actor_resources(spec: AgentSpec) -> dict[str, float]:
    wanted = spec.config.get("actor_resources") or {}
    if not isinstance(wanted, dict) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in wanted.values()
    ):
        raise AgentLoadError(
            f'"actor_resources" must map resource names to numbers, e.g. {{"gpu": 1}}; '
            f"got {wanted!r}"
        )
    return {str(k): float(v) for k, v in wanted.items()}


def _fields(attempt: Attempt) -> dict[str, Any]:
    return {
        "task_id": attempt.task_id,
        "type": attempt.type,
        "payload": attempt.payload,
        "attempt": attempt.attempt,
        "agent_id": attempt.agent_id,
        "complexity": attempt.complexity,
        "deadline": attempt.deadline,
        "resources": dict(attempt.resources),
    }


def _unavailable(agent_id: str) -> AttemptResult:
    return AttemptResult(
        Outcome.FAILED,
        error_kind="agent_unavailable",
        error_message=f"agent {agent_id} has no loaded implementation",
    )


def _submit_failed(exc: BaseException) -> AttemptResult:
    return AttemptResult(
        Outcome.LOST, error_kind="ray_submit_failed", error_message=_first_line(exc)
    )


def _last_line(exc: BaseException) -> str:
    """The raised error's own line: Ray puts it last, after its traceback."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return (lines[-1] if lines else type(exc).__name__)[:500]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:500]
