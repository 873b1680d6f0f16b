"""``HttpServer`` over real TCP: how its accepted connections are set up."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import AsyncIterator

import pytest

from imperium.interfaces.api import create_app
from imperium.interfaces.api.server import HttpServer, http_protocol
from imperium.runtime import Imperium

WITHIN = 10.0


@pytest.fixture
async def server(im: Imperium) -> AsyncIterator[HttpServer]:
    http = HttpServer(create_app(im), "127.0.0.1", 0, "warning")
    http.start()
    await http.started()
    yield http
    await http.stop()


def _socket_connected_to(peer: tuple[str, int]) -> socket.socket:
    """A duplicate of this process's socket whose peer is ``peer`` (the server runs on
    the test's own loop, so the server side of the connection is one of our descriptors)."""
    for name in os.listdir("/proc/self/fd"):
        try:
            candidate = socket.socket(fileno=os.dup(int(name)))
        except OSError:
            continue  # not a socket (or already gone)
        try:
            if candidate.getpeername() == peer:
                return candidate
        except OSError:
            pass
        candidate.close()
    raise AssertionError(f"no socket in this process is connected to {peer}")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/fd")
async def test_accepted_connections_send_without_delay(server: HttpServer) -> None:
    """TCP_NODELAY on the server's side: a response is written as headers then body, and
    without it the body waits for the client's delayed ACK (about 40 ms a request)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        async with asyncio.timeout(WITHIN):
            assert (await reader.readline()).startswith(b"HTTP/1.1 200")
        accepted = _socket_connected_to(writer.get_extra_info("sockname"))
        with accepted:
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        writer.close()
        await writer.wait_closed()


def test_http_is_parsed_by_httptools() -> None:
    """httptools is a dependency: the faster parser is the one used."""
    assert http_protocol() == "httptools"


def test_without_httptools_uvicorn_falls_back_to_h11(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "httptools", None)  # `import httptools` raises ImportError
    assert http_protocol() == "h11"
