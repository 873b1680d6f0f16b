"""deploy/docker/healthcheck.py, the image's probe: ready only on 200; alive on any answer
or while nothing listens (a standby), never on a port that accepts and does not answer."""

from __future__ import annotations

import http.server
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "deploy" / "docker" / "healthcheck.py"


def probe(url: str, *flags: str) -> int:
    return subprocess.run([sys.executable, str(SCRIPT), *flags, url], timeout=30).returncode


@pytest.fixture
def answering() -> Iterator[Callable[[int], str]]:
    servers: list[http.server.HTTPServer] = []

    def start(status: int) -> str:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}/api/health"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(("status", "ready", "alive"), [(200, 0, 0), (503, 1, 0), (404, 1, 0)])
def test_an_answer(answering, status: int, ready: int, alive: int) -> None:
    url = answering(status)
    assert (probe(url), probe(url, "--alive")) == (ready, alive)


def test_nothing_listening_is_alive_but_not_ready() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{unused.getsockname()[1]}/api/health"  # bound, not listening
        assert (probe(url), probe(url, "--alive")) == (1, 0)
