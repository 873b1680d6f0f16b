"""A local HTTP server speaking the published OpenAI API schema, for testing the model
adapters without the internet: ``POST /v1/chat/completions`` (a chat completion object
with ``usage``), ``POST /v1/images/generations`` (real PNGs of the asked size, as
``b64_json`` or a URL) and its error bodies (``{"error": {"message", "type", "param", "code"}}``),
checking the bearer key and the request's shape as the real API does.

By default it answers every chat request with ``echo: <last user message>`` and counts
tokens as words. Tests script other answers (a 429 with ``Retry-After``, a 500, a body
without usage...) with :meth:`OpenAIServer.script`; each scripted answer is used once, in
order. It records every request it received (``requests``).
"""

from __future__ import annotations

import base64
import json
import struct
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Scripted:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: Any


def error_body(message: str, kind: str, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def completion(text: str, model: str, prompt_tokens: int | None, completion_tokens: int | None,
               finish_reason: str = "stop") -> dict[str, Any]:  # fmt: skip
    body: dict[str, Any] = {
        "id": "chatcmpl-local-1",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": finish_reason,
            }
        ],
    }
    if prompt_tokens is not None:
        body["usage"] = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + (completion_tokens or 0),
        }
    return body


class OpenAIServer:
    def __init__(self, api_key: str | None = "sk-local-test") -> None:
        self.api_key = api_key
        self.requests: list[Received] = []
        self._script: list[Scripted] = []
        self._lock = threading.Lock()
        self.base_url = ""

    def script(self, *answers: Scripted) -> None:
        with self._lock:
            self._script.extend(answers)

    def reset(self) -> None:
        with self._lock:
            self._script.clear()
            self.requests.clear()

    def answer(self, path: str, headers: dict[str, str], raw: bytes) -> Scripted:
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            body = None
        with self._lock:
            self.requests.append(Received(path, headers, body))
            scripted = self._script.pop(0) if self._script else None
        if self.api_key is not None and headers.get("authorization") != f"Bearer {self.api_key}":
            return Scripted(
                401,
                error_body(
                    "Incorrect API key provided.", "invalid_request_error", "invalid_api_key"
                ),
            )
        if scripted is not None:
            return scripted
        if path == "/v1/chat/completions":
            return _chat(body)
        if path == "/v1/images/generations":
            return _images(body)
        return Scripted(404, error_body(f"Unknown request URL: POST {path}.",
                                        "invalid_request_error", "unknown_url"))  # fmt: skip


def _chat(body: Any) -> Scripted:
    if not isinstance(body, dict) or not isinstance(body.get("model"), str):
        return Scripted(400, error_body("you must provide a model parameter",
                                        "invalid_request_error"))  # fmt: skip
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or not all(
        isinstance(m, dict) and m.get("role") in ("system", "user", "assistant")
        and isinstance(m.get("content"), str) for m in messages
    ):  # fmt: skip
        return Scripted(400, error_body("'messages' must be a non-empty array of messages",
                                        "invalid_request_error"))  # fmt: skip
    last = next(m["content"] for m in reversed(messages) if m["role"] == "user")
    text = f"echo: {last}"
    prompt = sum(len(m["content"].split()) for m in messages)
    return Scripted(200, completion(text, body["model"], prompt, len(text.split())))


IMAGE_SIZES = ("256x256", "512x512", "1024x1024", "1792x1024", "1024x1792")


def png(width: int, height: int, rgb: tuple[int, int, int] = (40, 90, 200)) -> bytes:
    """A valid PNG of one colour (what the server "generates")."""
    row = b"\x00" + bytes(rgb) * width
    raw = zlib.compress(row * height, 9)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))  # fmt: skip

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def _images(body: Any) -> Scripted:
    if not isinstance(body, dict) or not isinstance(body.get("prompt"), str) or not body["prompt"]:
        return Scripted(400, error_body("'prompt' is a required property", "invalid_request_error"))
    size, n = body.get("size", "1024x1024"), body.get("n", 1)
    if size not in IMAGE_SIZES:
        return Scripted(400, error_body(f"'{size}' is not one of {list(IMAGE_SIZES)} - 'size'",
                                        "invalid_request_error"))  # fmt: skip
    if not isinstance(n, int) or not 1 <= n <= 10:
        return Scripted(400, error_body("n must be between 1 and 10", "invalid_request_error"))
    width, height = (int(v) for v in size.split("x"))
    image = base64.b64encode(png(width, height)).decode()
    url_wanted = body.get("response_format") == "url"
    item = ({"url": "https://images.example/generated/1.png"} if url_wanted
            else {"b64_json": image})  # fmt: skip
    data = [{**item, "revised_prompt": f"{body['prompt']}, detailed"} for _ in range(n)]
    return Scripted(200, {"created": 1_700_000_000, "data": data})


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length)
        headers = {k.lower(): v for k, v in self.headers.items()}
        answer = self.server.api.answer(self.path, headers, raw)
        payload = (
            answer.body if isinstance(answer.body, bytes) else json.dumps(answer.body).encode()
        )
        self.send_response(answer.status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        return


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    api: OpenAIServer


@contextmanager
def running_openai_server(api_key: str | None = "sk-local-test") -> Iterator[OpenAIServer]:
    """Serve on 127.0.0.1 on a free port in a thread; ``base_url`` ends in ``/v1``."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.api = OpenAIServer(api_key)
    server.api.base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.api
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
