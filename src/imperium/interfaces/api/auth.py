"""Who is calling: the API key of a request and what its role allows.

Authentication is on when the server listens beyond loopback (``imperium serve`` refuses
that without a key) or as soon as any key exists; a loopback server without keys serves
everyone as admin, as a single-user tool. A key is sent as ``Authorization: Bearer KEY``
or ``X-API-Key: KEY``; a WebSocket client, which cannot always set headers, may pass
``?api_key=KEY``.

Every router is included with :func:`authorize` as a dependency, so no route is forgotten.
Roles are checked here by route: ``read-only`` keys may only read, ``agent`` keys only use
the routes in :data:`AGENT_ROUTES`, whose handlers then check that the agent they act for
is the key's own (``Principal.require_agent``).
"""

from __future__ import annotations

import logging
import re
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, FastAPI, WebSocketException, status
from fastapi.openapi.utils import get_openapi
from starlette.requests import HTTPConnection

from imperium.domain.auth import ANONYMOUS_ADMIN, AuthError, ForbiddenError, Principal, Role
from imperium.interfaces.api.server import is_loopback

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# (method, path template); matched on the route itself, so a route elsewhere that happens
# to share a function name gains nothing
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
    }
)
PUBLIC = Principal(key_id=None, role=Role.READ_ONLY)


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


async def authorize(conn: HTTPConnection) -> Principal:
    try:
        return await _authorize(conn)
    except (AuthError, ForbiddenError) as exc:
        if conn.scope["type"] == "websocket":  # no problem+json on a socket: close it
            reason = str(exc).encode()[:120].decode(errors="ignore")
            raise WebSocketException(status.WS_1008_POLICY_VIOLATION, reason) from exc
        raise


async def _authorize(conn: HTTPConnection) -> Principal:
    # a WebSocket counts as a read: it streams what read-only keys may already read
    method = "GET" if conn.scope["type"] == "websocket" else conn.scope["method"]
    route = (method, getattr(conn.scope.get("route"), "path", ""))
    runtime = conn.app.state.runtime
    key = presented_key(conn)
    if key is None:
        if route in PUBLIC_ROUTES:
            principal = PUBLIC
        elif conn.app.state.auth_required or await runtime.keys.enabled():
            raise AuthError(
                "this server requires an API key: send it as 'Authorization: Bearer <key>'; "
                "an admin creates keys with `imperium keys create`"
            )
        else:
            if conn.scope["type"] == "websocket" or method not in SAFE_METHODS:
                _refuse_foreign_pages(conn)  # a page cannot read a cross-site GET's answer
            principal = ANONYMOUS_ADMIN
    else:
        principal = await runtime.keys.authenticate(key)
    _check_role(principal, route)
    conn.state.principal = principal
    return principal


def _refuse_foreign_pages(conn: HTTPConnection) -> None:
    """Without keys, a loopback server trusts whoever reaches it, but a web page the user
    visits can reach it too (a cross-site POST or WebSocket, or DNS rebinding). Browsers
    say where a request comes from: only this server's own pages on a loopback address,
    and the origins in ``IMPERIUM_CORS_ORIGINS``, may act without a key."""
    origin = conn.headers.get("origin")
    if origin is None:  # not sent by browsers for same-origin reads, nor by programs
        return
    allowed = conn.app.state.cors_origins
    if origin in allowed or "*" in allowed:
        return
    host = conn.headers.get("host", "")
    hostname = urlsplit(f"//{host}").hostname or ""
    if urlsplit(origin).netloc == host and is_loopback(hostname):
        return
    raise ForbiddenError(
        f"a web page from {origin} may not use this server without an API key; add the "
        "origin to IMPERIUM_CORS_ORIGINS, or create API keys and send one"
    )


def _check_role(principal: Principal, route: tuple[str, str]) -> None:
    if principal.role is Role.ADMIN or route in PUBLIC_ROUTES:
        return
    if principal.role is Role.AGENT:
        if route not in AGENT_ROUTES:
            raise ForbiddenError(
                "an agent key may only register and read its agent and lease, heartbeat, "
                "complete and fail its tasks; use an admin or read-only key for this"
            )
        return
    if route[0] not in SAFE_METHODS:
        raise ForbiddenError("a read-only key cannot change anything; use an admin key")


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
