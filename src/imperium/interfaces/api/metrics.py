"""Monitoring figures for one app: the Prometheus registry, the dispatch-latency histogram,
HTTP request metrics, and the reads shared by ``/metrics``, ``/api/v1/metrics`` and
``/api/status``.

Sources, and why:

- Task counts by state and attempts by outcome come from the database at scrape time, so
  they include work done before this process started and by the CLI. Attempts are never
  deleted, so their count is a true counter across restarts (``imperium_executions_total``).
- Queue depth, running attempts and agents come from the scheduler's memory (no I/O).
- Dispatch latency (ready -> started) comes from the ``waited`` of ``task.running`` events
  on the runtime's event bus, so it covers dispatches since this app was created.

Each app has its own ``CollectorRegistry`` (never the global one: tests build many apps).
The bus listener belongs to the runtime's bus and is weakly bound to this object: it lives
as long as the app and then removes itself, so ``create_app`` needs no shutdown hook.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, HTTPException, Request
from prometheus_client import (
    GC_COLLECTOR,
    CollectorRegistry,
    Counter,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from imperium import __version__
from imperium.domain.cache import CacheStats, total
from imperium.domain.models import Event
from imperium.domain.states import AgentStatus, Outcome, TaskState
from imperium.interfaces.api.ratelimit import RouteTemplates, method_of
from imperium.ports import QueryStore
from imperium.runtime import Imperium
from imperium.services.engine import Engine
from imperium.services.events import EventBus

log = logging.getLogger(__name__)
T = TypeVar("T")

# Ready -> started: a millisecond when an agent is free, up to a minute behind a backlog.
DISPATCH_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
RECENT_DISPATCHES = 10_000  # the window the JSON percentiles are computed over
DATABASE_TIMEOUT = 5.0  # seconds a monitoring read may take before it counts as no answer


# -------------------------------------------------------------------------- figures
@dataclass(frozen=True, slots=True)
class Live:
    """What the scheduler in this process holds now (memory only, O(agents))."""

    scheduler_up: bool
    ready: int  # tasks in the ready queues: dispatchable as soon as an agent is free
    active: int  # tasks the scheduler holds: pending, queued or running
    running_attempts: int
    agents: dict[tuple[AgentStatus, bool], int]  # (status, online) -> agents
    commits: int  # group commits written since the scheduler started


def live(engine: Engine) -> Live:
    agents: dict[tuple[AgentStatus, bool], int] = {}
    running = 0
    now = engine.snapshot()
    for agent in now.agents:
        key = (agent.spec.status, agent.online)
        agents[key] = agents.get(key, 0) + 1
        running += agent.running
    return Live(
        scheduler_up=not engine.failed.is_set() and not engine.stopped.is_set(),
        ready=now.ready,
        active=now.active,
        running_attempts=running,
        agents=agents,
        commits=now.commits,
    )


@dataclass(frozen=True, slots=True)
class Stored:
    """Counts from the database: tasks by state, attempts by outcome."""

    tasks: dict[TaskState, int]
    executions: dict[Outcome, int]


async def cache_stats(engine: Engine) -> list[CacheStats] | str:
    """The result cache's counters per task type, from its store (so they add up across
    restarts and servers); what went wrong when the store did not answer."""
    cache = engine.result_cache
    if cache is None:
        return []
    try:
        async with asyncio.timeout(DATABASE_TIMEOUT):
            return await cache.stats()
    except Exception as exc:  # the cache's store is down: say so, serve the rest
        log.warning("result cache counters unavailable: %s", exc, extra={"action": "monitor"})
        return f"the result cache's store did not answer: {describe(exc)}"


def cache_report(engine: Engine, stats: list[CacheStats] | str) -> dict[str, Any]:
    """``/api/status``'s ``result_cache``: what opted in, and hits, misses and savings."""
    cache = engine.result_cache
    ttls = dict(cache.ttls) if cache is not None else {}
    report: dict[str, Any] = {
        "enabled": bool(ttls),
        "backend": cache.store.backend if cache is not None else None,
        "ttl_seconds": ttls,
    }
    if isinstance(stats, str):
        return {**report, "error": stats}
    return {
        **report,
        **_figures(total(stats)),
        "by_type": {s.task_type: _figures(s) for s in stats},
    }


def _figures(stats: CacheStats) -> dict[str, Any]:
    return {
        "hits": stats.hits,
        "misses": stats.misses,
        "hit_rate": stats.hit_rate,
        "tokens_saved": stats.tokens_saved,
        "cost_saved": stats.cost_saved,
    }


async def stored(store: QueryStore) -> Stored:
    tasks, executions = await asyncio.gather(
        store.count_tasks_by_state(), store.count_executions_by_outcome()
    )
    return Stored(tasks, executions)


def named(counts: Mapping[Any, int]) -> dict[str, int]:
    """Counts keyed by enum members, keyed by their values for JSON."""
    return {str(key): n for key, n in counts.items()}


async def from_database(read: Awaitable[T]) -> T:
    """Await a database read for a monitoring route; a database that fails or does not
    answer within ``DATABASE_TIMEOUT`` becomes a 503 problem that says why."""
    try:
        async with asyncio.timeout(DATABASE_TIMEOUT):
            return await read
    except TimeoutError:
        detail = f"the database did not answer within {DATABASE_TIMEOUT:g}s"
        raise HTTPException(503, detail) from None
    except Exception as exc:  # whatever the driver raises: the answer is "unavailable"
        log.warning("monitoring read failed: %s", exc, extra={"action": "monitor"})
        raise HTTPException(503, f"the database did not answer: {describe(exc)}") from exc


def describe(exc: BaseException) -> str:
    """One line naming a database error (SQLAlchemy appends the SQL and a link)."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


@dataclass(frozen=True, slots=True)
class Latency:
    """Dispatch latency: ``count`` since the app started; the rest over the last
    ``window`` dispatches (None when there were none)."""

    count: int
    window: int
    mean: float | None
    p50: float | None
    p95: float | None
    p99: float | None
    max: float | None


def percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of sorted, non-empty ``ordered``."""
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


# -------------------------------------------------------------------------- the registry
class _Snapshot(Collector):
    """Serves the families built for the scrape in progress (set, rendered, cleared with no
    await in between, so concurrent scrapes cannot mix)."""

    def __init__(self) -> None:
        self.families: list[Metric] = []

    def describe(self) -> Iterable[Metric]:
        return []  # built per scrape; nothing to check against other collectors

    def collect(self) -> Iterable[Metric]:
        return list(self.families)


class ApiMetrics:
    """One app's registry and the figures only this process sees (dispatch latency since
    the app was created, HTTP requests); ``app.state.metrics``."""

    def __init__(self, runtime: Imperium) -> None:
        self.started_at = time.time()
        self._started = time.monotonic()
        self.registry = CollectorRegistry()
        self.dispatch_latency = Histogram(
            "imperium_dispatch_latency_seconds",
            "Time from a task becoming ready to an attempt starting on an agent.",
            buckets=DISPATCH_BUCKETS,
            registry=self.registry,
        )
        self.http_requests = Counter(
            "imperium_http_requests",
            "HTTP requests answered, by route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.http_duration = Histogram(
            "imperium_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template.",
            ["method", "route"],
            buckets=HTTP_BUCKETS,
            registry=self.registry,
        )
        Info("imperium", "Imperium build.", registry=self.registry).info({"version": __version__})
        self._snapshot = _Snapshot()
        self.registry.register(self._snapshot)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        self.registry.register(GC_COLLECTOR)
        self._recent: deque[float] = deque(maxlen=RECENT_DISPATCHES)
        self._dispatched = 0
        self._runtime = runtime
        self._request_counters: dict[tuple[str, str, int], Counter] = {}
        self._request_durations: dict[tuple[str, str], Histogram] = {}
        self.close = _listen_weakly(self, runtime.events)

    @property
    def uptime(self) -> float:
        return time.monotonic() - self._started

    def observe(self, events: Sequence[Event]) -> None:
        """The bus listener: one observation per attempt started (cheap, synchronous)."""
        for event in events:
            if event.event_type == "task.running" and event.data is not None:
                waited = event.data.get("waited")
                if isinstance(waited, int | float):
                    self.dispatch_latency.observe(waited)
                    self._recent.append(waited)
                    self._dispatched += 1

    def latency(self) -> Latency:
        recent = sorted(self._recent)
        if not recent:
            return Latency(self._dispatched, 0, None, None, None, None, None)
        p50, p95, p99 = (percentile(recent, q) for q in (0.5, 0.95, 0.99))
        mean = sum(recent) / len(recent)
        return Latency(self._dispatched, len(recent), mean, p50, p95, p99, recent[-1])

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        # labels() takes a lock and checks its arguments on every call: keep each child
        # (few: methods, route templates and statuses are small, closed sets)
        counter = self._request_counters.get((method, route, status))
        if counter is None:
            counter = self.http_requests.labels(method, route, str(status))
            self._request_counters[(method, route, status)] = counter
        counter.inc()
        duration = self._request_durations.get((method, route))
        if duration is None:
            duration = self.http_duration.labels(method, route)
            self._request_durations[(method, route)] = duration
        duration.observe(seconds)

    async def scrape(self, accept: str = "") -> tuple[bytes, str]:
        """The exposition the ``Accept`` header asks for (Prometheus text by default,
        OpenMetrics on request) and its content type. The database is read first
        (asynchronously, bounded by ``DATABASE_TIMEOUT``); rendering is synchronous."""
        counts: Stored | None = None
        try:
            async with asyncio.timeout(DATABASE_TIMEOUT):
                counts = await stored(self._runtime.store)
        except Exception as exc:  # exported as imperium_database_up 0; the rest still shows
            log.warning("metrics: database read failed: %s", exc, extra={"action": "scrape"})
        cached = await cache_stats(self._runtime.engine)
        encode, content_type = choose_encoder(accept)
        families = [*_families(live(self._runtime.engine), counts), *_cache_families(cached)]
        self._snapshot.families = families
        try:
            return encode(self.registry), content_type
        finally:
            self._snapshot.families = []


async def get_metrics(request: Request) -> ApiMetrics:  # async: no thread-pool hop
    metrics: ApiMetrics = request.app.state.metrics
    return metrics


Metrics = Annotated[ApiMetrics, Depends(get_metrics)]


def _listen_weakly(metrics: ApiMetrics, bus: EventBus) -> Callable[[], None]:
    """Register ``metrics.observe`` on ``bus`` without keeping ``metrics`` (and so its app)
    alive; once they are gone the listener unregisters itself, after the publish in
    progress (which is iterating the listeners). Returns an idempotent ``stop``."""
    ref = weakref.ref(metrics)
    stopped = False

    def listener(events: Sequence[Event]) -> None:
        target = ref()
        if target is not None:
            target.observe(events)
            return
        with contextlib.suppress(RuntimeError):  # no running loop: stays, inert
            asyncio.get_running_loop().call_soon(stop)

    remove = bus.listen(listener)

    def stop() -> None:
        nonlocal stopped
        if not stopped:
            stopped = True
            remove()

    return stop


def _families(live: Live, counts: Stored | None) -> Iterator[Metric]:
    yield _gauge("imperium_scheduler_up", "1 while this scheduler runs.", live.scheduler_up)
    yield _gauge("imperium_database_up", "1 if the database answered.", counts is not None)
    yield _gauge("imperium_queue_depth", "Tasks ready, waiting for an agent.", live.ready)
    yield _gauge("imperium_active_tasks", "Tasks the scheduler holds.", live.active)
    yield _gauge("imperium_running_attempts", "Attempts running now.", live.running_attempts)
    commits = CounterMetricFamily("imperium_group_commits", "Group commits since start.")
    commits.add_metric([], live.commits)
    yield commits
    agents = GaugeMetricFamily(
        "imperium_agents", "Agents by status and availability.", labels=["status", "online"]
    )
    for status in AgentStatus:
        for online in (True, False):
            count = live.agents.get((status, online), 0)
            agents.add_metric([str(status), str(online).lower()], count)
    yield agents
    if counts is None:
        return
    tasks = GaugeMetricFamily("imperium_tasks", "Tasks in the database by state.", labels=["state"])
    for state, n in counts.tasks.items():
        tasks.add_metric([str(state)], n)
    yield tasks
    executions = CounterMetricFamily(
        "imperium_executions", "Recorded attempts by outcome, all time.", labels=["outcome"]
    )
    for outcome, n in counts.executions.items():
        executions.add_metric([str(outcome)], n)
    yield executions


def _cache_families(stats: list[CacheStats] | str) -> Iterator[Metric]:
    """The result cache's counters by task type (none while its store does not answer)."""
    if isinstance(stats, str):
        return
    figures = (
        ("imperium_result_cache_hits", "Tasks served from the result cache.", "hits"),
        ("imperium_result_cache_misses", "Cache lookups that found nothing.", "misses"),
        ("imperium_result_cache_tokens_saved", "Tokens of the attempts hits replaced.",
         "tokens_saved"),
        ("imperium_result_cache_cost_saved", "Cost of the attempts hits replaced.",
         "cost_saved"),
    )  # fmt: skip
    for name, documentation, field in figures:
        family = CounterMetricFamily(name, documentation, labels=["task_type"])
        for s in stats:
            family.add_metric([s.task_type], getattr(s, field))
        yield family


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=float(value))


# -------------------------------------------------------------------------- HTTP middleware
class HttpMetricsMiddleware:
    """Counts and times HTTP requests by method (``OTHER`` for unusual ones) and route
    template (``/api/v1/tasks/{task_id}``, never the raw path), so label values stay few.
    Pure ASGI; WebSockets pass untouched."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics, routes: list[BaseRoute]) -> None:
        self.app = app
        self.metrics = metrics
        self.templates = RouteTemplates(routes)  # made at the first request: all routes exist

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # unless a response starts: an error escaping to Starlette's 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_status)
        finally:
            seconds = time.perf_counter() - started
            self.metrics.observe_request(method_of(scope), self._route(scope), status, seconds)

    def _route(self, scope: Scope) -> str:
        path = getattr(scope.get("route"), "path", None)
        # refused before routing (a rate limit, a body too large): find the template
        return path if isinstance(path, str) else self.templates(scope)
