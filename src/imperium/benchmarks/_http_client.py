"""The load generator of :mod:`.http`: a lean HTTP/1.1 client in worker processes.

httpx spends a few hundred microseconds of CPU on each request, about as much as the server
does, so a benchmark driving it from one process measures its own client. Here each worker
process has its own event loop and keep-alive connections (bare asyncio protocols), sends
pre-encoded requests and reads answers with httptools' parser: tens of microseconds a
request. The parent (:class:`Clients`) gives every worker its share of a phase and one
start time, so the workers' connections add up to the phase's and their fixed-rate
schedules interleave into one.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any, Literal, TypeVar

import httptools

T = TypeVar("T")
PhaseKind = Literal["max", "fixed"]
START_DELAY = 0.1  # seconds between the last worker being ready and the phase starting
IDLE_SECONDS = 4.0  # reuse a connection idle for less (uvicorn closes them after 5 s)
JOIN_SECONDS = 10.0


@dataclass(frozen=True)
class Phase:
    """One worker's share of a phase: ``rate`` is the whole phase's, of which this worker
    sends requests ``worker``, ``worker + workers``, ... (also the payloads' numbers)."""

    kind: PhaseKind
    host: str
    port: int
    duration: float
    connections: int  # this worker's: back to back ("max"), or opened up front ("fixed")
    rate: float = 0.0  # the whole phase's requests per second ("fixed")
    worker: int = 0
    workers: int = 1


@dataclass
class Outcome:
    """What one worker measured: seconds per answered request (201), failures by status
    or exception, its own CPU time, and how long its part of the phase took."""

    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    cpu_seconds: float = 0.0
    elapsed: float = 0.0

    def failed(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


class ClientError(Exception):
    """A worker could not run its phase (the server refused connections, say)."""


# ---------------------------------------------------------------------------- connection
class _Connection(asyncio.Protocol):
    """One keep-alive connection; one request at a time."""

    def __init__(self) -> None:
        self._parser = httptools.HttpResponseParser(self)
        self._transport: asyncio.Transport | None = None
        self._answer: asyncio.Future[int] | None = None
        self.usable = True
        self.idle_since = time.monotonic()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._settle(exc)

    def on_message_complete(self) -> None:  # httptools callback
        self._settle(self._parser.get_status_code())

    def connection_lost(self, exc: Exception | None) -> None:
        self.usable = False
        self._settle(exc or ConnectionResetError("the server closed the connection"))

    def _settle(self, outcome: int | Exception) -> None:
        answer, self._answer = self._answer, None
        if isinstance(outcome, Exception):
            self.usable = False
            if answer is not None and not answer.done():
                answer.set_exception(outcome)
        elif answer is not None and not answer.done():
            answer.set_result(outcome)

    async def request(self, data: bytes) -> int:
        """Send ``data`` (a whole request) and return the answer's status code."""
        if self._transport is None or not self.usable:
            raise ConnectionResetError("the connection is closed")
        self._answer = asyncio.get_running_loop().create_future()
        self._transport.write(data)
        return await self._answer

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


async def _connect(host: str, port: int) -> _Connection:
    _, protocol = await asyncio.get_running_loop().create_connection(_Connection, host, port)
    return protocol


def _request(host: str, port: int, n: int) -> bytes:
    body = b'{"type": "echo", "payload": {"n": %d}}' % n
    head = (
        f"POST /api/v1/tasks HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _submit(conn: _Connection, phase: Phase, n: int, outcome: Outcome) -> bool:
    """One task submission on ``conn``; a failure is counted in ``outcome``."""
    try:
        status = await conn.request(_request(phase.host, phase.port, n))
    except (OSError, httptools.HttpParserError) as exc:
        outcome.failed(type(exc).__name__)
        return False
    if status != 201:
        outcome.failed(str(status))
    return status == 201


# ---------------------------------------------------------------------------- phases
async def _max_rate(phase: Phase, pool: list[_Connection], start_at: float) -> Outcome:
    outcome = Outcome()
    stop_at = start_at + phase.duration
    numbers = iter(range(phase.worker, 1 << 62, phase.workers))

    async def back_to_back(conn: _Connection) -> None:
        while time.monotonic() < stop_at:
            if not conn.usable:
                conn = await _connect(phase.host, phase.port)
                pool.append(conn)
            sent = time.monotonic()
            if await _submit(conn, phase, next(numbers), outcome):
                outcome.latencies.append(time.monotonic() - sent)

    await _wait_until(start_at)
    await asyncio.gather(*(back_to_back(conn) for conn in list(pool)))
    outcome.elapsed = time.monotonic() - start_at
    return outcome


async def _fixed_rate(phase: Phase, pool: list[_Connection], start_at: float) -> Outcome:
    """An open loop: request k is sent at ``start_at + k / rate`` whatever the answers do,
    on an idle connection or a new one, and its latency counts from that scheduled time
    (no coordinated omission)."""
    outcome = Outcome()
    idle = list(pool)
    in_flight: set[asyncio.Task[None]] = set()

    async def one(n: int, scheduled: float) -> None:
        conn = _fresh(idle)
        if conn is None:
            try:
                conn = await _connect(phase.host, phase.port)
            except OSError as exc:  # refused, or out of descriptors: a failed request
                outcome.failed(type(exc).__name__)
                return
            pool.append(conn)
        if await _submit(conn, phase, n, outcome):
            outcome.latencies.append(time.monotonic() - scheduled)
        if conn.usable:
            conn.idle_since = time.monotonic()
            idle.append(conn)

    for n in range(phase.worker, int(phase.rate * phase.duration), phase.workers):
        scheduled = start_at + n / phase.rate
        await _wait_until(scheduled)
        job = asyncio.create_task(one(n, scheduled))
        in_flight.add(job)
        job.add_done_callback(in_flight.discard)
    if in_flight:
        await asyncio.gather(*in_flight)
    outcome.elapsed = time.monotonic() - start_at
    return outcome


def _fresh(idle: list[_Connection]) -> _Connection | None:
    """The most recently used idle connection that the server has not closed and will not
    close before it answers (it closes idle ones after a while); stale ones are closed."""
    while idle:
        conn = idle.pop()
        if conn.usable and time.monotonic() - conn.idle_since < IDLE_SECONDS:
            return conn
        conn.close()
    return None


async def _wait_until(moment: float) -> None:
    delay = moment - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)


async def _run(phase: Phase, pipe: Connection) -> Outcome | None:
    pool = [await _connect(phase.host, phase.port) for _ in range(phase.connections)]
    try:
        pipe.send("ready")
        start_at: float | None = pipe.recv()  # time.monotonic(): one clock for all processes
        if start_at is None:
            return None  # another worker failed: the parent stops the run
        cpu = time.process_time()
        run = _max_rate if phase.kind == "max" else _fixed_rate
        outcome = await run(phase, pool, start_at)
        outcome.cpu_seconds = time.process_time() - cpu
        return outcome
    finally:
        for conn in pool:
            conn.close()


def worker_main(pipe: Connection) -> None:
    """A worker process: runs each :class:`Phase` the parent sends, until it sends None."""
    while (phase := pipe.recv()) is not None:
        try:
            outcome = asyncio.run(_run(phase, pipe))
        except Exception as exc:  # the parent reports it and stops the run
            pipe.send(ClientError(f"load worker {phase.worker}: {type(exc).__name__}: {exc}"))
            continue
        if outcome is None:
            return
        pipe.send(outcome)


# ---------------------------------------------------------------------------- parent
class Clients:
    """``processes`` worker processes that run each phase together (blocking calls)."""

    def __init__(self, processes: int) -> None:
        context = multiprocessing.get_context("spawn")  # no copy of the parent's loop
        self._pipes: list[Connection] = []
        self._processes: list[Any] = []
        for _ in range(processes):
            ours, theirs = context.Pipe()
            process = context.Process(target=worker_main, args=(theirs,), daemon=True)
            process.start()
            theirs.close()
            self._pipes.append(ours)
            self._processes.append(process)

    @property
    def count(self) -> int:
        return len(self._pipes)

    def run(self, phases: list[Phase]) -> list[Outcome]:
        """Run one phase per worker, started at the same moment once all are connected."""
        for pipe, phase in zip(self._pipes, phases, strict=True):
            pipe.send(phase)
        for pipe in self._pipes:
            _expect(pipe.recv(), str)
        start_at = time.monotonic() + START_DELAY
        for pipe in self._pipes:
            pipe.send(start_at)
        return [_expect(pipe.recv(), Outcome) for pipe in self._pipes]

    def close(self) -> None:
        for pipe in self._pipes:
            with contextlib.suppress(OSError):  # that worker is gone already
                pipe.send(None)
        for process in self._processes:
            process.join(JOIN_SECONDS)
            if process.is_alive():
                process.kill()
                process.join()
        for pipe in self._pipes:
            pipe.close()


def _expect(message: object, kind: type[T]) -> T:
    if isinstance(message, ClientError):
        raise message
    if not isinstance(message, kind):
        raise ClientError(f"unexpected message from a load worker: {message!r}")
    return message
