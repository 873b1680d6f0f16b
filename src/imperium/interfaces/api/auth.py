"""Who is calling: the API key of a request and what its role allows.

Keys are in force when the server listens beyond loopback (``imperium serve`` refuses
that without a key) or once any key has been created (revoked ones count; ``imperium keys
reset-open`` forgets them all). A loopback server without keys serves everyone as admin, as
a single-user tool, but only requests addressed to a loopback name (``Host``), so that a
web page reaching it through a rebound DNS name reads nothing, and of those only programs
and this server's own pages may change anything or open a stream (``Origin``). A key is
sent as ``Authorization: Bearer KEY`` or ``X-API-Key: KEY``; a WebSocket client, which
cannot always set headers, may pass ``?api_key=KEY``.

:class:`AuthMiddleware` decides who calls before anything else reads the request (so rate
limits count against the key, and a request without a valid key is refused before its body
is read), for every route, the documentation and unknown paths included. Every router is
also included with :func:`authorize` as a dependency, which checks the role again against
the route the request was actually routed to and gives handlers the :class:`Principal`.
Roles are checked by route: ``read-only`` keys may only read, ``agent`` keys only use the
routes in :data:`AGENT_ROUTES`, whose handlers then check that the agent they act for is
the key's own (``Principal.require_agent``) and offers only what the key allows
(``Principal.require_capabilities``).
"""

from __future__ import annotations

import functools
import inspect
import ipaddress
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, FastAPI, WebSocketException, status
from fastapi.openapi.utils import get_openapi
from starlette.requests import HTTPConnection, Request
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocketClose

from imperium.domain.auth import ANONYMOUS_ADMIN, AuthError, ForbiddenError, Principal, Role
from imperium.interfaces.api.ratelimit import RouteTemplates
from imperium.services.keys import KeyService

Route = tuple[str, str]  # (method, path template); WebSockets count as GET
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# matched on the route itself, so a route elsewhere that shares a function name gains nothing
PUBLIC_ROUTES = frozenset({("GET", "/api/health"), ("GET", "/api/v1/health")})  # probes
AGENT_ROUTES = frozenset(
    {
        ("POST", "/api/v1/agents"),
        ("GET", "/api/v1/agents/{agent_id}"),
        ("POST", "/api/v1/agents/{agent_id}/lease"),
        ("POST", "/api/v1/tasks/{task_id}/heartbeat"),
        ("POST", "/api/v1/tasks/{task_id}/complete"),
        ("POST", "/api/v1/tasks/{task_id}/fail"),
        ("POST", "/api/proposals"),  # an eligible agent submits its own proposals
        ("GET", "/api/v1/knowledge/search"),  # ctx.knowledge on a remote worker
        ("POST", "/api/v1/knowledge/search"),  # ... recorded for its own attempts only
    }
)
PUBLIC = Principal(key_id=None, role=Role.READ_ONLY)
KEY_REQUIRED = (
    "this server requires an API key: send it as 'Authorization: Bearer <key>'; "
    "an admin creates keys with `imperium keys create`"
)


def presented_key(conn: HTTPConnection) -> str | None:
    authorization = conn.headers.get("authorization")
    if authorization:
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() == "bearer" and credentials.strip():
            return credentials.strip()
        raise AuthError("send the API key as 'Authorization: Bearer <key>'")
    key = conn.headers.get("x-api-key")
    if key is None and conn.scope["type"] == "websocket":  # browsers cannot set headers there
        key = conn.query_params.get("api_key")
    return key or None


@functools.lru_cache(maxsize=1024)  # parsed on every request; clients send few names
def is_loopback_host(host: str | None) -> bool:
    """Whether a ``Host`` header names this machine's loopback (``localhost``, a
    ``*.localhost`` name, ``127.0.0.0/8``, ``[::1]``, with any port). Browsers resolve
    those names to loopback themselves, so a page from elsewhere cannot have them as its
    host; a missing header is not from a browser."""
    if host is None:
        return True
    try:
        name = (urlsplit(f"//{host}").hostname or "").rstrip(".")
    except ValueError:  # e.g. an unbalanced "[": not a name a browser would send
        return False
    if name == "localhost" or name.endswith(".localhost") or name == "localhost.localdomain":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Gate:
    """What this server asks of a request: built once by ``create_app``."""

    keys: KeyService
    required: bool  # keys even before any exists (a server beyond loopback)
    cors_origins: frozenset[str]
    public: frozenset[Route] = PUBLIC_ROUTES  # answered without a key
    docs: frozenset[Route] = frozenset()  # any valid key may read them

    async def identify(self, conn: HTTPConnection, route: Route) -> Principal:
        """Who ``conn`` acts for on ``route``; :class:`AuthError` (401) or
        :class:`ForbiddenError` (403) when it may not."""
        key = presented_key(conn)
        if key is not None:
            principal = await self.keys.authenticate(key)
        elif route in self.public:
            if not is_loopback_host(conn.headers.get("host")) and await self._keyless_probe():
                _refuse_host(conn)
            principal = PUBLIC
        elif await self._keyless():
            _refuse_foreign(conn, route[0], self.cors_origins)
            principal = ANONYMOUS_ADMIN
        else:
            raise AuthError(KEY_REQUIRED)
        self.check(principal, route)
        return principal

    def check(self, principal: Principal, route: Route) -> None:
        """Refuse a role that may not use ``route``."""
        if principal.role is Role.ADMIN or route in self.public:
            return
        if principal is PUBLIC:  # let in for a public route: any other needs a key
            raise AuthError(KEY_REQUIRED)
        if route in self.docs:
            return
        if principal.role is Role.AGENT:
            if route not in AGENT_ROUTES:
                raise ForbiddenError(
                    "an agent key may only register and read its agent, lease, heartbeat, "
                    "complete and fail its tasks and search the knowledge base; use an admin "
                    "or read-only key for this"
                )
            return
        if route[0] not in SAFE_METHODS:
            raise ForbiddenError("a read-only key cannot change anything; use an admin key")

    async def _keyless(self) -> bool:
        return not self.required and not await self.keys.enabled()

    async def _keyless_probe(self) -> bool:
        try:
            return await self._keyless()
        except Exception:  # the database does not answer: the probe says little anyway
            return False


def _refuse_host(conn: HTTPConnection) -> None:
    raise ForbiddenError(
        f"this server has no API keys, so it answers only requests addressed to a loopback "
        f"name (localhost, 127.0.0.1, [::1]), not to {conn.headers.get('host')!r}: a web "
        "page reaching it through a rebound DNS name must read nothing. To serve other "
        "names (a reverse proxy), create API keys with `imperium keys create`"
    )


def _refuse_foreign(conn: HTTPConnection, method: str, cors_origins: frozenset[str]) -> None:
    """Without keys, a loopback server trusts whoever reaches it, but a web page the user
    visits can reach it too: through a rebound DNS name (refused by ``Host``), or by a
    cross-site POST or WebSocket, which a browser marks with ``Origin``. Only this server's
    own pages on a loopback address, and the origins in ``IMPERIUM_CORS_ORIGINS``, may act
    without a key; a page cannot read a cross-site GET's answer, so reads pass."""
    host = conn.headers.get("host")
    if not is_loopback_host(host):
        _refuse_host(conn)
    origin = conn.headers.get("origin")
    if origin is None or (conn.scope["type"] == "http" and method in SAFE_METHODS):
        return  # no Origin: not sent by browsers for same-origin reads, nor by programs
    if origin in cors_origins or "*" in cors_origins:
        return
    if host is not None and urlsplit(origin).netloc == host:
        return  # this server's own page (its Host is a loopback name, checked above)
    raise ForbiddenError(
        f"a web page from {origin} may not use this server without an API key; add the "
        "origin to IMPERIUM_CORS_ORIGINS, or create API keys and send one"
    )


class AuthMiddleware:
    """Identifies the caller of every HTTP request and WebSocket before the app (and the
    rate limits inside this middleware) see it, leaving the :class:`Principal` in
    ``scope["state"]["principal"]``. A refusal, or an error while looking a key up (the
    database), is answered as the app's exception handlers answer it; a WebSocket that
    may not connect is closed before the handshake (HTTP 403)."""

    def __init__(
        self,
        app: ASGIApp,
        gate: Gate,
        routes: list[BaseRoute],
        handlers: Mapping[Any, Callable[[Request, Exception], Any]],
    ) -> None:
        self.app = app
        self.gate = gate
        self.templates = RouteTemplates(routes)  # made at the first request: all routes exist
        self.handlers = handlers  # the app's, by exception class

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        method = scope["method"] if scope["type"] == "http" else "GET"
        try:
            route = (method, self.templates(scope))
            principal = await self.gate.identify(HTTPConnection(scope), route)
        except Exception as exc:
            await self._refuse(scope, receive, send, exc)
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, exc: Exception) -> None:
        if scope["type"] == "websocket":
            if not isinstance(exc, (AuthError, ForbiddenError)):
                raise exc
            close = WebSocketClose(status.WS_1008_POLICY_VIOLATION, close_reason(exc))
            await close(scope, receive, send)
            return
        handler = next((self.handlers[c] for c in type(exc).__mro__ if c in self.handlers), None)
        if handler is None:
            raise exc
        response = handler(Request(scope, receive), exc)
        if inspect.isawaitable(response):
            response = await response
        await response(scope, receive, send)


def close_reason(exc: Exception) -> str:
    """``exc``'s message cut to what a WebSocket close frame carries."""
    return str(exc).encode()[:120].decode(errors="ignore")  # a close reason is short


async def authorize(conn: HTTPConnection) -> Principal:
    """The caller :class:`AuthMiddleware` identified, checked against the route the
    request was routed to (the middleware matched it before routing)."""
    principal = conn.scope.get("state", {}).get("principal")
    if not isinstance(principal, Principal):
        raise RuntimeError("no caller was identified: build the app with create_app")
    method = "GET" if conn.scope["type"] == "websocket" else conn.scope["method"]
    gate: Gate = conn.app.state.gate
    try:
        gate.check(principal, (method, getattr(conn.scope.get("route"), "path", "")))
    except (AuthError, ForbiddenError) as exc:
        if conn.scope["type"] == "websocket":  # no problem+json on a socket: close it
            raise WebSocketException(status.WS_1008_POLICY_VIOLATION, close_reason(exc)) from exc
        raise
    return principal


CurrentPrincipal = Annotated[Principal, Depends(authorize)]

_KEY_IN_QUERY = re.compile(r"(api_key=)[^&\s\"']+")


class RedactKeys(logging.Filter):
    """uvicorn logs each WebSocket handshake with its query string: hide ``api_key``."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "api_key=" in message:
            record.msg, record.args = _KEY_IN_QUERY.sub(r"\1***", message), None
        return True


def redact_keys_in_server_logs() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, RedactKeys) for f in logger.filters):
        logger.addFilter(RedactKeys())


def document(app: FastAPI) -> None:
    """Declare the key schemes in the OpenAPI document, so /docs offers "Authorize"."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            schema.setdefault("components", {})["securitySchemes"] = {
                "bearer": {"type": "http", "scheme": "bearer", "description": "imp_… key"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            }
            schema["security"] = [{"bearer": []}, {"apiKey": []}]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
