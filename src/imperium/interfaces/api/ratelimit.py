"""Rate limits per client and per endpoint (the seed shared one bucket across endpoints).

An endpoint is a method and the path template of the route the request matches
(``GET /api/v1/tasks/{task_id}``), so ``/tasks/a`` and ``/tasks/b`` share a bucket; paths
that match no route share one more, and methods outside :data:`METHODS` count as one,
``OTHER``. A client is the API key (the ``key_id`` of the ``principal`` the authentication
middleware, which runs first, leaves in ``scope["state"]``) or else the IP address. Behind
a reverse proxy, list its address in ``IMPERIUM_TRUSTED_PROXIES`` so that the address is
the real client's from ``X-Forwarded-For``; from anyone else that header is ignored, so it
cannot buy fresh buckets.

Limits come from ``IMPERIUM_RATE_LIMITS``: ``off``, or ``;``-separated ``name=N/period``
entries laid over :data:`BUILTIN_RULES`, where a name is ``default`` (seed-compatible and
unknown routes), ``native`` (``/api/v1/tasks*``, ``/agents*``, ``/workflows*``: programs
and busy remote workers) or a route's path template; a value of ``off`` exempts it.
Health, status, metrics and documentation routes are not limited unless named;
``/api/database/health`` (full row counts) is, under ``default``.

The counting uses the ``limits`` library's sliding-window counter (smooth, O(1) per
request) in memory, which suits one server process. ``limits`` also stores counters in
Redis, Memcached or MongoDB for several processes: set ``IMPERIUM_RATE_LIMIT_STORAGE``
(e.g. ``redis://host:6379``, with the ``coredis`` package installed).
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from limits import RateLimitItem, parse_many
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.errors import ConfigurationError
from limits.storage import storage_from_string
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

from imperium.domain.errors import ImperiumError
from imperium.interfaces.api import problems

try:
    from fastapi.routing import iter_route_contexts
except ImportError:  # FastAPI before included routers were kept whole
    iter_route_contexts = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

BUILTIN_RULES = (
    "default=100/minute;native=6000/minute;"
    "/api/v1/l20/strategize=10/minute;/api/v1/l20/coordinate=20/minute;"
    "/api/v1/swarm/dispatch=50/minute;/api/v1/intelligence/{type}/execute=30/minute;"
    "/api/imperium/cycles/trigger=10/minute;/api/v1/learning/cycles=10/minute"
)
NATIVE_PREFIXES = ("/api/v1/tasks", "/api/v1/agents", "/api/v1/workflows")
EXEMPT = frozenset(
    {
        "/api/health", "/api/status", "/api/agents/status",
        "/api/v1/health", "/api/v1/status", "/api/v1/metrics", "/metrics",
        "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json", "/docs/static",
    }
)  # fmt: skip
UNMATCHED = "(no route)"
# a server accepts any token as a method: others are counted (and limited) as one, OTHER
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
MAX_REMEMBERED = 10_000  # paths whose template is remembered
EXPECTED = (
    "expected 'off' or entries like 'default=100/minute;native=6000/minute;"
    "/api/v1/l20/strategize=10/minute', where a name is default, native or a route path "
    "and a limit is N/second, N/minute, N/hour, N/day or off"
)
_PLACEHOLDER = re.compile(r"\{[^}]*\}")

Limit = RateLimitItem | None  # None: not limited


def method_of(scope: Scope) -> str:
    """The request's method if it is one of :data:`METHODS`, else ``OTHER``."""
    method: str = scope["method"]
    return method if method in METHODS else "OTHER"


class RateLimitConfigError(ImperiumError):
    """``IMPERIUM_RATE_LIMITS`` or ``IMPERIUM_RATE_LIMIT_STORAGE`` cannot be used."""


@dataclass(frozen=True)
class RateRules:
    """Which limit applies to a route template."""

    default: Limit
    native: Limit
    paths: Mapping[str, Limit]  # keyed by template with placeholders written ``{}``

    def limit_for(self, template: str) -> Limit:
        key = _PLACEHOLDER.sub("{}", template)
        if key in self.paths:
            return self.paths[key]
        if key in EXEMPT:
            return None
        if template.startswith(NATIVE_PREFIXES):
            return self.native
        return self.default


def parse_rules(text: str) -> RateRules | None:
    """The rules ``text`` (an ``IMPERIUM_RATE_LIMITS`` value) sets; None when ``off``."""
    if text.strip().lower() == "off":
        return None
    entries = _entries(BUILTIN_RULES) | _entries(text)
    default, native = entries.pop("default"), entries.pop("native")
    return RateRules(default=default, native=native, paths=entries)


def _entries(text: str) -> dict[str, Limit]:
    entries: dict[str, Limit] = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        name, equals, value = (s.strip() for s in part.partition("="))
        if not equals or not (name in ("default", "native") or name.startswith("/")):
            raise _bad(part, "the name must be default, native or a route path starting /")
        entries[_PLACEHOLDER.sub("{}", name)] = _limit(part, value)
    return entries


def _limit(part: str, value: str) -> Limit:
    if value.lower() == "off":
        return None
    try:
        items = parse_many(value)
    except ValueError:
        items = []
    if len(items) != 1 or items[0].amount < 1:
        raise _bad(part, "the limit must be one N/period with N >= 1, or off")
    return items[0]


def _bad(part: str, why: str) -> RateLimitConfigError:
    return RateLimitConfigError(f"IMPERIUM_RATE_LIMITS: {part!r} is not valid: {why}; {EXPECTED}")


def open_limiter(storage_uri: str) -> SlidingWindowCounterRateLimiter:
    """A limiter over ``storage_uri`` (``memory://``, ``redis://host:6379``, ...)."""
    uri = storage_uri if storage_uri.startswith("async+") else f"async+{storage_uri}"
    try:
        return SlidingWindowCounterRateLimiter(storage_from_string(uri))
    except (ConfigurationError, NotImplementedError) as exc:
        raise RateLimitConfigError(
            f"IMPERIUM_RATE_LIMIT_STORAGE {storage_uri!r} cannot be used: {exc}; use "
            "memory:// for one process or redis://host:6379 (needs coredis) for several"
        ) from exc


class RouteTemplates:
    """Finds the path template of the route a request matches, before routing."""

    def __init__(self, routes: Sequence[BaseRoute]) -> None:
        # FastAPI keeps an included router as one entry (without a path) in
        # ``app.router.routes``; older versions flattened them there themselves.
        flat = list(routes) if iter_route_contexts is None else iter_route_contexts(routes)
        # a route can only match a path that holds its text up to the first "{" (at the
        # start, after any root path): checking that first skips nearly every regex
        self.routes = [(str(r.path).partition("{")[0], r) for r in flat if hasattr(r, "path")]
        self._seen: dict[tuple[str, str], str] = {}  # workers call the same paths again

    def __call__(self, scope: Scope) -> str:
        """The template of the route ``scope`` (an HTTP request or a WebSocket) matches
        (one whose method differs if no other does), or :data:`UNMATCHED`."""
        method = method_of(scope) if scope["type"] == "http" else "WEBSOCKET"
        key = (method, scope["path"])
        template = self._seen.get(key)
        if template is None:
            if len(self._seen) >= MAX_REMEMBERED:
                self._seen.clear()
            template = self._seen[key] = self._match(scope)
        return template

    def _match(self, scope: Scope) -> str:
        path = scope["path"]
        partial = UNMATCHED
        for prefix, route in self.routes:
            if prefix not in path:
                continue
            match, _ = route.matches(scope)
            if match is Match.FULL:
                return str(route.path)
            if match is Match.PARTIAL and partial == UNMATCHED:
                partial = str(route.path)
        return partial


def principal_key_id(scope: Scope) -> str | None:
    """The id of the API key that authenticated the request (auth runs first)."""
    principal = scope.get("state", {}).get("principal")
    key_id = getattr(principal, "key_id", None)
    return str(key_id) if key_id else None


class RateLimitMiddleware:
    """Answers 429 (problem+json, ``Retry-After``) once a client has used up its limit on
    an endpoint; other requests and non-HTTP scopes pass untouched.

    Authentication runs before (outside) it: a request with a valid key counts against
    that key from its first request on, one without a key against the IP address, and
    one with a bad key is refused (401) before it is counted, so made-up keys neither buy
    fresh buckets nor use up the address's.
    """

    def __init__(
        self,
        app: ASGIApp,
        rules: RateRules,
        routes: Sequence[BaseRoute],
        limiter: SlidingWindowCounterRateLimiter,
    ) -> None:
        self.app = app
        self.rules = rules
        self.endpoint = RouteTemplates(routes)  # made at the first request: all routes exist
        self.limiter = limiter
        self._limits: dict[str, Limit] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        template = self.endpoint(scope)
        if template not in self._limits:
            self._limits[template] = self.rules.limit_for(template)
        limit = self._limits[template]
        if limit is None:
            await self.app(scope, receive, send)
            return
        who = self._client(scope)
        if not await self.limiter.hit(limit, who, method_of(scope), template):
            await self._refuse(scope, receive, send, limit, who, template)
            return
        await self.app(scope, receive, send)

    @staticmethod
    def _client(scope: Scope) -> str:
        key_id = principal_key_id(scope)
        if key_id:
            return f"key:{key_id}"
        client = scope.get("client")
        return f"ip:{client[0]}" if client else "ip:unknown"

    async def _refuse(
        self, scope: Scope, receive: Receive, send: Send, limit: RateLimitItem, who: str,
        template: str,
    ) -> None:  # fmt: skip
        method = method_of(scope)
        stats = await self.limiter.get_window_stats(limit, who, method, template)
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        log.debug("rate limited", extra={"client": who, "endpoint": f"{method} {template}"})
        detail = (
            f"too many requests: the limit for {method} {template} is {limit} per client; "
            f"retry in {retry_after} s"
        )
        response = problems.problem(429, "Too Many Requests", detail)
        response.headers["Retry-After"] = str(retry_after)
        response.headers["RateLimit-Limit"] = str(limit.amount)
        response.headers["RateLimit-Remaining"] = str(stats.remaining)
        await response(scope, receive, send)
