"""Serving the API with uvicorn inside the process that runs the scheduler.

``imperium serve`` owns the signals (it drains the scheduler after the HTTP server
stops), so uvicorn's own signal handling is switched off, and the listening socket is
bound here, so a port in use is an error message rather than uvicorn exiting the process.

The socket is made with ``IPPROTO_TCP``: asyncio sets ``TCP_NODELAY`` on an accepted
connection only when its protocol says TCP, and accepted sockets inherit it from the
listening one. With protocol 0 every response (written as headers, then body) waited for
the client's delayed ACK, about 40 ms. HTTP is parsed by ``httptools`` (a dependency;
faster than uvicorn's pure-Python ``h11``, which remains the fallback).

uvicorn's proxy headers are off too: by default it believes ``X-Forwarded-For`` from
127.0.0.1, so anyone on the machine could pose as any address (and so escape per-client
rate limits). The app believes them only from ``IMPERIUM_TRUSTED_PROXIES``
(:mod:`.middleware`).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI

from imperium.domain.errors import ImperiumError

LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}
WS_MAX_BYTES = 64 * 1024
"""Largest WebSocket message a client may send (uvicorn's default is 16 MiB); beyond it the
connection is closed with code 1009. Clients send only pings."""


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def http_protocol() -> str:
    """uvicorn's HTTP implementation: ``httptools`` when installed, else ``h11``."""
    try:
        import httptools  # noqa: F401
    except ImportError:
        return "h11"
    return "httptools"


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # `imperium serve` handles SIGINT/SIGTERM and stops the server itself


class HttpServer:
    def __init__(self, app: FastAPI, host: str, port: int, log_level: str) -> None:
        self.host = host
        self._socket = self._bind(host, port)
        self.port = self._socket.getsockname()[1]
        config = uvicorn.Config(
            app,
            log_level=log_level.lower(),
            http=http_protocol(),
            lifespan="off",
            access_log=False,
            timeout_graceful_shutdown=5,  # open long-polls end when dispatching stops
            ws_max_size=WS_MAX_BYTES,
            proxy_headers=False,  # the app decides whom to believe (IMPERIUM_TRUSTED_PROXIES)
        )
        self._server = _Server(config)
        self._task: asyncio.Task[None] | None = None

    @staticmethod
    def _bind(host: str, port: int) -> socket.socket:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say so
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            sock.close()
            raise ImperiumError(
                f"cannot listen on {host}:{port}: {exc.strerror}; stop what uses the port or "
                "pass another one with --port"
            ) from exc
        sock.set_inheritable(True)
        return sock

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> asyncio.Task[None]:
        self._task = asyncio.create_task(self._server.serve(sockets=[self._socket]))
        return self._task

    async def started(self) -> None:
        while not self._server.started:
            if self._task is not None and self._task.done():
                self._task.result()  # re-raise a start-up failure
                return
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        self._socket.close()
