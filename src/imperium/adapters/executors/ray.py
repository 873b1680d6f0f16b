"""Agents on a Ray cluster (runtime ``ray``, the ``ray`` extra, imported lazily).

A stateless agent runs each attempt as a Ray task; a stateful one (``"stateful": true``
in its config) on a pool of ``max_concurrency`` Ray actors, created when first needed and
replaced when one dies. A task's resources become the Ray task's request
(``ray_requests``); an actor, made before any task, requests its agent's
``"actor_resources"`` (e.g. ``{"gpu": 1}``; none: no CPU held while it waits).

Ray owns no task state: Ray's own retries are off, and every outcome is reported to the
engine through the same callback the in-process executor uses, so it lands in the same
execution rows. A worker, actor or node that dies mid-attempt makes the attempt ``lost``
(``error_kind`` ``ray_worker_died`` and the like), retried by the engine like any other.
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
from imperium.adapters.executors.ray_requests import ray_options, shortfall
from imperium.agents.loader import load_agent_class
from imperium.domain.errors import AgentLoadError
from imperium.domain.models import AgentSpec, AttemptResult
from imperium.domain.states import Outcome
from imperium.extras import MissingExtraError, require
from imperium.ports import Attempt, AttemptReporter

log = logging.getLogger(__name__)

CAPACITY_REFRESH_SECONDS = 5.0

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


def connect_ray(address: str, num_cpus: int) -> Any:
    """The ``ray`` module, connected: ``local`` starts an instance on this machine with
    ``num_cpus`` CPUs, anything else (``auto``, ``ray://host:10001``) joins a cluster."""
    ray = require("ray", "an agent with runtime ray")
    if not ray.is_initialized():
        options: dict[str, Any] = {"log_to_driver": False, "configure_logging": False}
        options["address"] = address  # local: a new instance, even if `ray start` ran here
        if address == "local":
            options |= {"num_cpus": num_cpus, "include_dashboard": False}
        ray.init(**options)
    return ray


@dataclass(eq=False)
class _Running:
    ref: Any
    actor: Any = None
    pool: _ActorPool | None = None
    waiter: asyncio.Task[None] | None = None


class _ActorPool:
    """Up to ``size`` actors of one agent; each runs one attempt at a time."""

    def __init__(self, make: Any, size: int) -> None:
        self._make = make
        self._size = size
        self._idle: list[Any] = []
        self._busy = 0

    def take(self) -> Any:
        self._busy += 1
        return self._idle.pop() if self._idle else self._make()

    def give_back(self, actor: Any) -> None:
        self._busy -= 1
        if len(self._idle) + self._busy < self._size:
            self._idle.append(actor)

    def discard(self, ray: Any, actor: Any) -> None:
        """The actor died or is being stopped; a fresh one replaces it when next needed."""
        self._busy -= 1
        ray.kill(actor, no_restart=True)

    def close(self, ray: Any) -> None:
        for actor in self._idle:
            ray.kill(actor, no_restart=True)
        self._idle.clear()


class RayExecutor:
    def __init__(self, address: str = "local", num_cpus: int = 2) -> None:
        self._address = address
        self._num_cpus = num_cpus
        self._ray: Any = None
        self._task_fn: Any = None
        self._task_fns: dict[tuple[tuple[str, float], ...], Any] = {}
        self._actor_cls: Any = None
        self._specs: dict[str, AgentSpec] = {}
        self._pools: dict[str, _ActorPool] = {}
        self._running: dict[str, _Running] = {}
        self._totals: dict[str, float] = {}
        self._totals_at = -CAPACITY_REFRESH_SECONDS

    def _connect(self) -> Any:
        if self._ray is None:
            try:
                ray = connect_ray(self._address, self._num_cpus)
            except MissingExtraError as exc:
                raise AgentLoadError(str(exc)) from exc
            self._task_fn = ray.remote(max_retries=0)(_ray_worker.run_task)
            self._actor_cls = ray.remote(max_restarts=0, max_task_retries=0)(_ray_worker.AgentActor)
            self._ray = ray
        return self._ray

    # ------------------------------------------------------------------ agents
    def prepare(self, spec: AgentSpec) -> None:
        load_agent_class(spec.type)  # the driver must find it too: an error says so here
        stateful = spec.config.get("stateful") is True
        options = ray_options(_actor_resources(spec), default_cpus=0) if stateful else {}
        self._connect()
        self.forget(spec.id)
        self._specs[spec.id] = spec
        if stateful:
            config = dict(spec.config)
            self._pools[spec.id] = _ActorPool(
                lambda: self._actor_cls.options(**options).remote(spec.type, config),
                spec.max_concurrency,
            )

    def forget(self, agent_id: str) -> None:
        self._specs.pop(agent_id, None)
        pool = self._pools.pop(agent_id, None)
        if pool is not None:
            pool.close(self._ray)

    # ------------------------------------------------------------------ attempts
    def start(self, attempt: Attempt, report: AttemptReporter) -> None:
        spec = self._specs.get(attempt.agent_id)
        if spec is None:
            report(attempt.task_id, attempt.token, _unavailable(attempt.agent_id))
            return
        fields = _fields(attempt)
        pool = self._pools.get(attempt.agent_id)
        if pool is not None:
            actor = pool.take()
            running = _Running(actor.run.remote(fields), actor, pool)
        else:
            ref = self._task_for(attempt.resources).remote(spec.type, spec.config, fields)
            running = _Running(ref)
        self._running[attempt.task_id] = running
        loop = asyncio.get_running_loop()
        running.waiter = loop.create_task(self._wait(attempt, running, report))

    def _task_for(self, resources: Mapping[str, float]) -> Any:
        """The Ray remote function with this resource request (``.options`` is paid once
        per distinct request, not per attempt)."""
        key = tuple(sorted(resources.items()))
        task_fn = self._task_fns.get(key)
        if task_fn is None:
            if len(self._task_fns) > 1000:
                self._task_fns.clear()
            task_fn = self._task_fn.options(**ray_options(resources, default_cpus=1))
            self._task_fns[key] = task_fn
        return task_fn

    async def _wait(self, attempt: Attempt, running: _Running, report: AttemptReporter) -> None:
        try:
            result = await self._outcome(running.ref)
        except asyncio.CancelledError:
            return  # cancelled here: cancel() stopped it in Ray and reports nothing
        finally:
            self._running.pop(attempt.task_id, None)
        if running.pool is not None:
            if result.outcome is Outcome.LOST:
                running.pool.discard(self._ray, running.actor)
            else:
                running.pool.give_back(running.actor)
        report(attempt.task_id, attempt.token, result)

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
        if running.pool is not None:  # the attempt's state dies with its actor
            running.pool.discard(self._ray, running.actor)
        else:
            self._ray.cancel(running.ref, force=True)

    def running(self) -> int:
        return len(self._running)

    # ------------------------------------------------------------------ placement
    def unplaceable(self, agent_id: str, resources: Mapping[str, float]) -> str | None:
        spec = self._specs.get(agent_id)
        if spec is None:
            return None
        self._refresh_totals()
        if agent_id in self._pools:  # the actor's request must fit as well as the task's
            return shortfall(_actor_resources(spec), self._totals) or shortfall(
                resources, self._totals
            )
        return shortfall(resources, self._totals)

    def capacity_changed(self) -> bool:
        if not self._specs:
            return False
        return self._refresh_totals()

    def _refresh_totals(self) -> bool:
        """Re-read the cluster's totals, at most every few seconds; True if they changed."""
        now = time.monotonic()
        if now - self._totals_at < CAPACITY_REFRESH_SECONDS:
            return False
        self._totals_at = now
        totals = {k: float(v) for k, v in self._ray.cluster_resources().items()}
        changed = totals != self._totals
        self._totals = totals
        return changed

    async def close(self) -> None:
        for task_id in list(self._running):
            self.cancel(task_id)
        for agent_id in list(self._pools):
            self.forget(agent_id)
        self._specs.clear()


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


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:500]
