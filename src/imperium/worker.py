"""``Worker``: runs an agent on this machine for an Imperium server somewhere else::

    async def summarise(ctx: TaskContext) -> dict:
        return {"summary": ctx.payload["text"][:100]}

    worker = Worker("http://127.0.0.1:8000", "summariser-1", summarise,
                    capabilities=["summarise"])
    await worker.run()  # until worker.stop()

The worker long-polls for leases, runs each task through the same machinery as a local
agent (an :class:`~imperium.agents.base.Agent` subclass or an async or blocking function,
:class:`TaskContext` in, :class:`Output` or :class:`TaskFailed` out), heartbeats while the
attempt runs and reports the outcome with the lease's fencing token. When the server does
not know ``agent_id`` it registers it as an agent of type ``remote``.

Execution is at-least-once: if this process dies its leases expire, and the server runs the
tasks again elsewhere; a result that arrives after that is refused (409) and dropped here.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from imperium.adapters.executors.local import run_attempt
from imperium.agents.base import Agent, TaskContext, agent
from imperium.client import Client, ClientError, Lease, Recorded, ServerUnreachableError
from imperium.domain.models import AttemptResult
from imperium.domain.states import Outcome

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_ERROR_KIND = 100  # the API's limits on a failure report
MAX_MESSAGE = 10_000
REPORT_RETRY_CAP = 2.0  # seconds between tries to report a result, at most


class WorkerError(Exception):
    """The worker cannot go on: the server refuses this agent (it runs in-process or is
    retired), refused to register it, or the agent's own set-up failed."""


class Backoff:
    """Waits that double from ``first`` up to ``cap`` while a server keeps failing."""

    def __init__(self, first: float = 0.5, cap: float = 15.0) -> None:
        self.first, self.cap = first, cap
        self.next = first

    def reset(self) -> None:
        self.next = self.first

    def take(self) -> float:
        delay, self.next = self.next, min(self.cap, self.next * 2)
        return delay


class _RemoteKnowledge:
    """``ctx.knowledge`` on a remote worker: the server's knowledge base, over the API
    (each search recorded for the attempt that made it)."""

    def __init__(self, client: Client, ctx: TaskContext | None = None) -> None:
        self._client = client
        self._ctx = ctx

    def for_attempt(self, ctx: TaskContext) -> _RemoteKnowledge:
        return _RemoteKnowledge(self._client, ctx)

    async def search(self, query: str, k: int = 5, topic: str | None = None) -> list[Any]:
        ctx = self._ctx
        return await self._client.search_knowledge(
            query, k, topic=topic, task_id=ctx.task_id if ctx else None,
            attempt=ctx.attempt if ctx else None, agent_id=ctx.agent_id if ctx else None,
        )  # fmt: skip


def as_agent_class(implementation: type[Agent] | Callable[[TaskContext], Any]) -> type[Agent]:
    if inspect.isclass(implementation) and issubclass(implementation, Agent):
        return implementation
    if callable(implementation):
        return agent(implementation)
    raise TypeError(f"{implementation!r} is neither an Agent subclass nor a function")


@dataclass(slots=True)
class _Contact:
    """When the server last answered about one lease (the event loop's clock)."""

    last: float


class Worker:
    """A remote agent: leases tasks from ``server_url`` and runs them here."""

    def __init__(
        self,
        server_url: str,
        agent_id: str,
        implementation: type[Agent] | Callable[[TaskContext], Any],
        *,
        capabilities: list[str] | tuple[str, ...] = (),
        concurrency: int = 1,
        lease_wait: float = 10.0,
        config: dict[str, Any] | None = None,
        api_key: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not agent_id:
            raise ValueError("agent_id must not be empty")
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        if not 0 <= lease_wait <= 30:
            raise ValueError(f"lease_wait must be between 0 and 30 seconds, got {lease_wait}")
        self.server_url = server_url
        self.agent_id = agent_id
        self.agent_class = as_agent_class(implementation)
        self.capabilities = list(capabilities)
        self.concurrency = concurrency
        self.lease_wait = lease_wait
        self.config = dict(config or {})
        self._api_key = api_key  # None: IMPERIUM_API_KEY from the environment, if set
        self._transport = transport  # e.g. httpx.ASGITransport for an in-process server
        self._stopping = asyncio.Event()
        self._slot_freed = asyncio.Event()
        self._attempts: set[asyncio.Task[None]] = set()
        self._joined = False

    @property
    def running(self) -> int:
        """Attempts running now."""
        return len(self._attempts)

    def stop(self) -> None:
        """Lease nothing more; :meth:`run` returns once the running attempts have ended."""
        self._stopping.set()

    async def run(self) -> None:
        """Lease and run tasks until :meth:`stop`. Raises ServerUnreachableError when the
        server cannot be reached at start (later outages are waited out), WorkerError when
        the server refuses this agent or the agent cannot start."""
        instance = self._make_agent()
        try:
            await self._set_up(instance)
            try:
                await self._serve(instance)
            finally:
                await self._teardown(instance)
        finally:
            if instance.thread_pool is not None:
                instance.thread_pool.shutdown(wait=False)

    async def _serve(self, instance: Agent) -> None:
        async with Client(
            self.server_url, api_key=self._api_key, transport=self._transport
        ) as client:
            try:
                await self._lease_loop(client, instance)
            except asyncio.CancelledError:
                for attempt in self._attempts:
                    attempt.cancel()  # abandoned: their leases expire, they run elsewhere
                raise
            finally:
                await asyncio.gather(*self._attempts, return_exceptions=True)

    # ------------------------------------------------------------------ leasing
    def _make_agent(self) -> Agent:
        try:
            instance = self.agent_class(self.config)
        except Exception as exc:
            raise WorkerError(f"cannot create agent {self.agent_class.__name__}: {exc}") from exc
        if instance.blocking:
            instance.thread_pool = ThreadPoolExecutor(
                max_workers=self.concurrency, thread_name_prefix=f"worker-{self.agent_id}"
            )
        return instance

    async def _lease_loop(self, client: Client, instance: Agent) -> None:
        backoff = Backoff()
        while not self._stopping.is_set():
            free = self.concurrency - len(self._attempts)
            if free <= 0:
                self._slot_freed.clear()
                await self._unless_stopped(self._slot_freed.wait())
                continue
            wait = self.lease_wait if self._joined else 0.0
            try:
                leases = await self._unless_stopped(client.lease(self.agent_id, free, wait))
            except ClientError as exc:
                await self._after_lease_error(client, exc, backoff)
                continue
            if leases is None:
                break  # stopped while waiting
            if not self._joined:
                self._joined = True
                log.info(
                    "worker %s leasing from %s (concurrency %d)",
                    self.agent_id,
                    self.server_url,
                    self.concurrency,
                    extra={"action": "worker.joined", "agent_id": self.agent_id},
                )
            backoff.reset()
            for lease in leases:
                self._start(client, instance, lease)

    async def _after_lease_error(self, client: Client, exc: ClientError, backoff: Backoff) -> None:
        if isinstance(exc, ServerUnreachableError) and not self._joined:
            raise exc  # never reached: a wrong URL, or the server is not up
        if exc.status == 404:
            if await self._register(client):
                return
            delay = backoff.take()  # registered already, but the scheduler does not know it yet
            log.info(
                "agent %s is registered; waiting %.1fs for the scheduler", self.agent_id, delay
            )
        elif exc.status is not None and exc.status < 500 and exc.status != 429:
            raise WorkerError(f"the server refuses agent {self.agent_id}: {exc.detail}") from exc
        else:
            delay = backoff.take()
            log.warning(
                "leasing failed (%s); retrying in %.1fs",
                exc,
                delay,
                extra={"action": "worker.lease_failed", "agent_id": self.agent_id},
            )
        await self._unless_stopped(asyncio.sleep(delay))

    async def _register(self, client: Client) -> bool:
        """Register this agent; False when it exists already (its capabilities apply)."""
        try:
            await client.register_agent(
                self.agent_id,
                type="remote",
                capabilities=self.capabilities,
                max_concurrency=self.concurrency,
            )
        except ClientError as exc:
            if exc.status != 409:
                raise WorkerError(f"cannot register agent {self.agent_id}: {exc.detail}") from exc
            return False
        log.info(
            "registered remote agent %s with capabilities %s",
            self.agent_id,
            ", ".join(self.capabilities) or self.agent_id,
            extra={"action": "worker.registered", "agent_id": self.agent_id},
        )
        return True

    async def _unless_stopped(self, work: Coroutine[Any, Any, T]) -> T | None:
        """``work``'s result, or None if :meth:`stop` came first (``work`` is cancelled)."""
        job = asyncio.ensure_future(work)
        stopped = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait((job, stopped), return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
            if not job.done():
                job.cancel()
            await asyncio.gather(job, stopped, return_exceptions=True)
        return None if job.cancelled() else job.result()

    async def _set_up(self, instance: Agent) -> None:
        try:
            await instance.setup()
        except Exception as exc:
            raise WorkerError(f"agent {self.agent_id} failed to set up: {exc}") from exc

    async def _teardown(self, instance: Agent) -> None:
        try:
            await instance.teardown()
        except Exception:
            log.exception("agent %s teardown failed", self.agent_id)

    # ------------------------------------------------------------------ attempts
    def _start(self, client: Client, instance: Agent, lease: Lease) -> None:
        attempt = asyncio.create_task(self._attempt(client, instance, lease))
        self._attempts.add(attempt)
        attempt.add_done_callback(self._ended)

    def _ended(self, attempt: asyncio.Task[None]) -> None:
        self._attempts.discard(attempt)
        self._slot_freed.set()
        if not attempt.cancelled() and attempt.exception() is not None:
            log.error("attempt crashed", exc_info=attempt.exception())

    async def _attempt(self, client: Client, instance: Agent, lease: Lease) -> None:
        """Run the attempt under heartbeats, then report its result. The heartbeats go on
        while the report is retried, so a server that was away keeps the lease alive.

        The report runs to its end even when a heartbeat hears that the lease has moved
        on meanwhile: that answer may be the server's view of this very report, accepted
        and being committed. Cancelling it then would drop the answer that says whether
        the result was recorded (and a report that fails to commit would not be retried);
        :meth:`_report` stops by itself once the server has answered or the lease would
        have expired."""
        contact = _Contact(asyncio.get_running_loop().time())
        runner = asyncio.create_task(run_attempt(instance, self._context(lease, client)))
        keeper = asyncio.create_task(self._keep_alive(client, lease, contact))
        try:
            await asyncio.wait((runner, keeper), return_when=asyncio.FIRST_COMPLETED)
            if not runner.done():
                return  # the lease moved on: nobody would accept this result
            await self._report(client, lease, runner.result(), contact)
        finally:
            runner.cancel()  # no-op when it has ended; stops it when the lease was lost
            keeper.cancel()
            await asyncio.gather(runner, keeper, return_exceptions=True)

    def _context(self, lease: Lease, client: Client) -> TaskContext:
        return TaskContext(
            lease.task_id,
            lease.type,
            lease.payload,
            lease.attempt,
            self.agent_id,
            lease.complexity,
            lease.deadline,
            lease.resources,
            self.config,
            {"knowledge": _RemoteKnowledge(client)},
        )

    async def _keep_alive(self, client: Client, lease: Lease, contact: _Contact) -> None:
        """Heartbeat every third of the lease; returns when the lease has moved on."""
        interval = lease.lease_seconds / 3
        while True:
            await asyncio.sleep(interval)
            try:
                await client.heartbeat(
                    lease.task_id,
                    agent_id=self.agent_id,
                    token=lease.token,
                    request_timeout=interval,
                )
                contact.last = asyncio.get_running_loop().time()
            except ClientError as exc:
                if exc.status == 409:
                    log.warning(
                        "task %s: the lease has moved on (%s); abandoning the attempt",
                        lease.task_id,
                        exc.detail,
                        extra={"action": "worker.lease_lost", "task_id": lease.task_id},
                    )
                    return
                log.warning("task %s: heartbeat failed (%s); will retry", lease.task_id, exc)

    async def _report(
        self, client: Client, lease: Lease, result: AttemptResult, contact: _Contact
    ) -> None:
        """Send the result until it is recorded or refused, or until the lease would have
        expired from the server's view: a whole lease period after the server last
        answered (a heartbeat that gets through moves that on)."""
        backoff = Backoff(cap=REPORT_RETRY_CAP)
        loop = asyncio.get_running_loop()
        while True:
            try:
                recorded = await self._send(client, lease, result)
            except ServerUnreachableError as exc:
                error: ClientError = exc
            except ClientError as exc:
                if exc.status is not None and exc.status < 500:
                    log.warning(
                        "task %s: the result was not recorded: %s",
                        lease.task_id,
                        exc.detail,
                        extra={"action": "worker.report_refused", "task_id": lease.task_id},
                    )
                    return
                error = exc
            else:
                log.info(
                    "task %s attempt %d: %s, task now %s",
                    lease.task_id,
                    lease.attempt,
                    result.outcome,
                    recorded["state"],
                    extra={"action": "worker.reported", "task_id": lease.task_id},
                )
                return
            left = contact.last + lease.lease_seconds - loop.time()
            if left <= 0:
                break
            delay = min(backoff.take(), left)
            log.warning("task %s: reporting failed (%s); retrying", lease.task_id, error)
            await asyncio.sleep(delay)
        log.error(
            "task %s: gave up reporting the result; the lease will expire and the task run again",
            lease.task_id,
        )

    async def _send(self, client: Client, lease: Lease, result: AttemptResult) -> Recorded:
        if result.outcome is Outcome.SUCCEEDED:
            return await client.complete(
                lease.task_id,
                agent_id=self.agent_id,
                token=lease.token,
                result=result.result,
                tokens=result.tokens,
                cost=result.cost,
            )
        return await client.fail(
            lease.task_id,
            agent_id=self.agent_id,
            token=lease.token,
            error_kind=(result.error_kind or "agent_error")[:MAX_ERROR_KIND],
            message=(result.error_message or "")[:MAX_MESSAGE],
            retryable=result.retryable,
            tokens=result.tokens,
            cost=result.cost,
        )
