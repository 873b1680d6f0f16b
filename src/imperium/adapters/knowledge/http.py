"""Polite HTTP for the connectors: one ``WebClient`` per process, and a ``SourceSession``
per source and ingest.

Every request of a source goes through its ``Pacer`` (kept by the ``WebClient`` across
ingests, so the limit holds however often ingestion runs), is counted against the
source's daily quota, names Imperium in its User-Agent, has a timeout, and goes only to a
host the registry allows (redirects included). Timeouts, dropped connections, 429 and 5xx
are retried with exponential backoff (a ``Retry-After`` is honoured); a server asking for
a longer wait than ``max_wait`` makes the source back off until then instead.
``X-RateLimit-Remaining: 0`` with ``X-RateLimit-Reset`` (GitHub) does the same.
"""

from __future__ import annotations

import asyncio
import dataclasses
import email.utils
import importlib.metadata
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx

from imperium.domain.knowledge import Source, SourceState, host_allowed
from imperium.ports import Clock

log = logging.getLogger(__name__)


def _version() -> str:
    try:
        return importlib.metadata.version("imperium")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - a source checkout
        return "dev"


USER_AGENT = f"Imperium/{_version()} (knowledge-base ingestion; python-httpx)"
DAY = 86_400
Sleep = Callable[[float], Awaitable[None]]
RETRYABLE = frozenset({429, 500, 502, 503, 504})


class SourceError(Exception):
    """A source could not be fetched (the message says why); recorded, never raised past
    the connector."""


class SourceSkipped(SourceError):  # noqa: N818 - reads naturally when raised
    """Not fetched at all: quota spent or backing off (recorded as skipped)."""


class Pacer:
    """At most one request per ``interval`` seconds, on the monotonic clock."""

    def __init__(self, clock: Clock, sleep: Sleep) -> None:
        self._clock = clock
        self._sleep = sleep
        self._next = float("-inf")
        self._lock = asyncio.Lock()

    async def wait(self, interval: float) -> None:
        async with self._lock:
            delay = self._next - self._clock.monotonic()
            if delay > 0:
                await self._sleep(delay)
            self._next = max(self._clock.monotonic(), self._next) + interval

    def push_back(self, seconds: float) -> None:
        """The server asked for a pause: no request before ``seconds`` from now."""
        self._next = max(self._next, self._clock.monotonic() + seconds)


@dataclasses.dataclass(frozen=True, slots=True)
class HttpConfig:
    timeout: float = 15.0
    max_retries: int = 3
    backoff_base: float = 1.0
    backoff_cap: float = 30.0
    max_wait: float = 60.0
    """Longest pause (Retry-After, backoff) waited inside one ingest; longer: back off."""
    max_redirects: int = 3
    max_body: int = 5_000_000
    """The largest answer read (decoded bytes); a larger one fails the source."""


class WebClient:
    def __init__(
        self,
        clock: Clock,
        config: HttpConfig | None = None,
        sleep: Sleep = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.clock = clock
        self.config = config or HttpConfig()
        self.sleep = sleep
        self._client = httpx.AsyncClient(
            timeout=self.config.timeout, headers={"User-Agent": USER_AGENT},
            follow_redirects=False, transport=transport,
        )  # fmt: skip
        self._pacers: dict[str, Pacer] = {}

    def pacer(self, source_id: str) -> Pacer:
        return self._pacers.setdefault(source_id, Pacer(self.clock, self.sleep))

    def session(
        self, source: Source, state: SourceState, min_interval: float = 0.0
    ) -> SourceSession:
        return SourceSession(self, source, state, max(source.min_interval, min_interval))

    async def send(self, request: httpx.Request) -> httpx.Response:
        """The answer, its body read up to ``max_body`` bytes (more: ``SourceError``, the
        rest never read)."""
        response = await self._client.send(request, stream=True)
        try:
            limit = self.config.max_body
            declared = _int(response.headers.get("content-length"))
            if declared is not None and declared > limit:
                raise SourceError(
                    f"the answer from {request.url.host} is larger than {limit} bytes"
                )
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > limit:
                    raise SourceError(
                        f"the answer from {request.url.host} is larger than {limit} bytes"
                    )
        finally:
            await response.aclose()
        response._content = bytes(body)  # what .content, .text and .json() read
        return response

    def build(
        self, url: str, params: Mapping[str, Any] | None, headers: Mapping[str, str]
    ) -> httpx.Request:
        return self._client.build_request("GET", url, params=params, headers=headers)

    async def close(self) -> None:
        await self._client.aclose()


class SourceSession:
    """One source's requests during one ingest; ``state`` is what to keep afterwards."""

    def __init__(self, web: WebClient, source: Source, state: SourceState, interval: float) -> None:
        self.web = web
        self.source = source
        self.state = state
        self.interval = interval
        self.skipped = 0
        self._pacer = web.pacer(source.id)
        self._domains = source.domains()

    def update(self, **changes: Any) -> None:
        self.state = dataclasses.replace(self.state, **changes)

    def back_off(self, seconds: float, why: str) -> None:
        """Wait ``seconds`` before this source's next request (told by the server)."""
        self._pacer.push_back(seconds)
        until = self.web.clock.now() + seconds
        self.update(backoff_until=max(until, self.state.backoff_until or 0.0))
        log.info("source %s backs off %.1fs: %s", self.source.id, seconds, why)

    def check_allowed(self) -> None:
        until = self.state.backoff_until
        now = self.web.clock.now()
        if until is not None and until > now + self.web.config.max_wait:
            raise SourceSkipped(f"backing off for {until - now:.0f}s more, as the server asked")
        if until is not None and until > now:  # told so in an earlier ingest
            self._pacer.push_back(until - now)
        quota = self.source.daily_quota
        if (
            quota is not None
            and self.state.quota_day == int(now // DAY)
            and self.state.quota_used >= quota
        ):
            raise SourceSkipped(f"daily quota of {quota} requests spent; next UTC day")

    async def get(
        self,
        url: str,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """The answer to a GET (2xx or 304), after retries; raises ``SourceError``."""
        for _ in range(self.web.config.max_redirects + 1):
            response = await self._retrying(url, params, dict(headers or {}))
            if response.status_code not in (301, 302, 303, 307, 308):
                return response
            target = response.url.join(response.headers.get("location", ""))
            if target.host != response.url.host:  # a key or token stays with its own host
                headers = {k: v for k, v in (headers or {}).items() if k.lower() != "authorization"}
            url, params = str(target), None
        raise SourceError(f"more than {self.web.config.max_redirects} redirects from {url}")

    async def _retrying(
        self, url: str, params: Mapping[str, Any] | None, headers: dict[str, str]
    ) -> httpx.Response:
        if not host_allowed(url, self._domains):
            raise SourceError(
                f"{url} is outside the source's allowed domains {list(self._domains)}"
            )
        config = self.web.config
        for attempt in range(1, config.max_retries + 2):
            self.check_allowed()
            await self._pacer.wait(self.interval)
            self._count_request()
            try:
                response = await self.web.send(self.web.build(url, params, headers))
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                problem = f"{type(exc).__name__} from {httpx.URL(url).host}"
                await self._retry_later(attempt, None, problem)
                continue
            self._note_rate_limit(response)
            if response.status_code not in RETRYABLE:
                if response.status_code >= 400:
                    raise SourceError(
                        f"HTTP {response.status_code} from {url}: {_reason(response)}"
                    )
                return response
            await self._retry_later(attempt, _retry_after(response, self.web.clock.now()),
                                    f"HTTP {response.status_code}")  # fmt: skip
        raise AssertionError("unreachable")  # pragma: no cover

    async def _retry_later(self, attempt: int, retry_after: float | None, problem: str) -> None:
        config = self.web.config
        if attempt > config.max_retries:
            raise SourceError(f"{problem}, after {attempt} attempts")
        delay = min(config.backoff_cap, config.backoff_base * 2 ** (attempt - 1))
        if retry_after is not None:
            if retry_after > config.max_wait:
                self.back_off(retry_after, problem)
                raise SourceError(f"{problem}: asked to wait {retry_after:.0f}s; backing off")
            delay = max(delay, retry_after)
        self._pacer.push_back(delay)

    def _count_request(self) -> None:
        day = int(self.web.clock.now() // DAY)
        used = self.state.quota_used + 1 if self.state.quota_day == day else 1
        self.update(quota_day=day, quota_used=used)

    def _note_rate_limit(self, response: httpx.Response) -> None:
        remaining = _int(response.headers.get("x-ratelimit-remaining"))
        if remaining is None:
            return
        self.update(api_quota_remaining=remaining)
        reset = _int(response.headers.get("x-ratelimit-reset"))
        if remaining == 0 and reset is not None:
            self.back_off(max(0.0, reset - self.web.clock.now()), "X-RateLimit-Remaining is 0")


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def _retry_after(response: httpx.Response, now: float) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError):
        return None


def _reason(response: httpx.Response) -> str:
    return " ".join(response.text[:200].split()) or response.reason_phrase
