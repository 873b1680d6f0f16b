"""The HTTP middleware, installed in one call, and the security headers.

Outermost first: security headers (so every answer carries them, refusals and Starlette's
own 500 included), CORS (so a browser can read a 401 or 429), proxy headers (only with
``IMPERIUM_TRUSTED_PROXIES``: the client's address from ``X-Forwarded-For``), authentication
(:mod:`.auth`: who calls, before anything is counted or read), rate limits (per key or
address, before any body is read), input limits (:mod:`.limits`), then the app. All are
pure ASGI: they wrap ``send`` or ``receive`` and leave streaming responses alone.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from imperium.interfaces.api import docs, ratelimit
from imperium.interfaces.api.auth import AuthMiddleware, Gate
from imperium.interfaces.api.limits import BodyLimitMiddleware
from imperium.settings import Settings

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}
API_CSP = "default-src 'none'; frame-ancestors 'none'"
# /docs (Swagger UI) and /redoc load their code and styles from this server (api/docs.py)
# and start from script files, never inline. Their styles stay 'unsafe-inline': both set
# style attributes, and ReDoc writes its styles into <style> elements at run time. ReDoc's
# search runs in a worker made from a blob.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src blob:; "
    "frame-ancestors 'none'"
)
EXPOSED_HEADERS = ["Retry-After", "RateLimit-Limit", "RateLimit-Remaining"]


def install(app: FastAPI, settings: Settings, gate: Gate) -> None:
    """Add the middleware ``settings`` asks for; a bad rate-limit setting raises
    :class:`~.ratelimit.RateLimitConfigError` here, at start."""
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes)
    rules = ratelimit.parse_rules(settings.rate_limits)
    routes = app.router.routes
    if rules is not None:
        limiter = ratelimit.open_limiter(settings.rate_limit_storage)
        app.add_middleware(
            ratelimit.RateLimitMiddleware, rules=rules, routes=routes, limiter=limiter
        )
    app.add_middleware(AuthMiddleware, gate=gate, routes=routes, handlers=app.exception_handlers)
    proxies = trusted_proxies(settings.trusted_proxies)
    if proxies:  # uvicorn's own handling is off (server.py): no one else is believed
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=proxies)
    origins = cors_origins(settings.cors_origins)
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_credentials="*" not in origins,  # browsers refuse credentials with "*"
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=EXPOSED_HEADERS,
        )
    pages = frozenset(docs.PAGES)
    _wrap_outermost(app, lambda inner: SecurityHeadersMiddleware(inner, docs_paths=pages))


def cors_origins(text: str) -> list[str]:
    """``IMPERIUM_CORS_ORIGINS``: comma-separated origins, ``*`` for any; empty for none."""
    return [origin.strip().rstrip("/") for origin in text.split(",") if origin.strip()]


def trusted_proxies(text: str) -> list[str]:
    """``IMPERIUM_TRUSTED_PROXIES`` as networks (``10.0.0.1`` -> ``10.0.0.1/32``), the
    form uvicorn's middleware compares addresses with; empty for none."""
    parts = (p.strip() for p in text.split(","))
    return [str(ipaddress.ip_network(p, strict=False)) for p in parts if p]


def _wrap_outermost(app: FastAPI, wrap: Callable[[ASGIApp], ASGIApp]) -> None:
    """Wrap the whole middleware stack, Starlette's ServerErrorMiddleware included, which
    ``add_middleware`` cannot reach (it answers unexpected errors with a 500)."""
    build = app.build_middleware_stack

    def build_wrapped() -> ASGIApp:
        return wrap(build())

    app.build_middleware_stack = build_wrapped  # type: ignore[method-assign]


class SecurityHeadersMiddleware:
    """Adds :data:`SECURITY_HEADERS` and a Content-Security-Policy to every HTTP response
    that does not set them itself: strict for the API, :data:`DOCS_CSP` for the docs."""

    def __init__(self, app: ASGIApp, docs_paths: set[str] | frozenset[str] = frozenset()):
        self.app = app
        self.docs_paths = docs_paths
        # encoded once: this runs on every response
        self.api_headers = _encoded({**SECURITY_HEADERS, "Content-Security-Policy": API_CSP})
        self.docs_headers = _encoded({**SECURITY_HEADERS, "Content-Security-Policy": DOCS_CSP})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        added = self.docs_headers if scope["path"] in self.docs_paths else self.api_headers

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = _with_defaults(message.get("headers", ()), added)
            await send(message)

        await self.app(scope, receive, send_with_headers)


RawHeaders = list[tuple[bytes, bytes]]


def _encoded(headers: dict[str, str]) -> RawHeaders:
    return [(name.lower().encode(), value.encode()) for name, value in headers.items()]  # ASCII


def _with_defaults(headers: Iterable[tuple[bytes, bytes]], defaults: RawHeaders) -> RawHeaders:
    """``headers`` (a new list: the response's own is left alone) and those of
    ``defaults`` whose name it does not set."""
    present = [(name, value) for name, value in headers]
    names = {name.lower() for name, _ in present}
    return present + [header for header in defaults if header[0] not in names]
