"""A local HTTP server answering in the documented formats of the knowledge sources, for
testing the connectors without the internet: an RSS 2.0 feed (with ``ETag`` and
``Last-Modified``, 304 to a matching conditional request), the Stack Exchange API 2.3
(``/2.3/questions``, ``/2.3/answers/{ids}``: ``items``, ``quota_max``,
``quota_remaining``, optional ``backoff``, ``error_id`` bodies), the GitHub REST API
(``/search/repositories``, ``/search/issues``, ``/repos/{o}/{r}/releases`` with
``X-RateLimit-*`` headers) and the arXiv API (``/api/query``, an Atom feed).

Tests script other answers per path (a 429 with ``Retry-After``, a 500, a slow answer, a
malformed body) with :meth:`KnowledgeServer.script`; each is used once, in order. Every
request is recorded with its query and headers.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

ETAG = '"feed-v1"'
LAST_MODIFIED = "Mon, 07 Dec 2026 05:00:00 GMT"

RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Python blog</title><link>http://blog.local/</link>
<description>posts</description>
<item><title>Asyncio task groups</title><link>http://blog.local/task-groups</link>
<description>&lt;p&gt;TaskGroup waits for every task and cancels the rest when one
fails.&lt;/p&gt;</description>
<author>ada@example.org (Ada)</author><pubDate>Sun, 06 Dec 2026 10:00:00 GMT</pubDate></item>
<item><title>Connection pools in SQLAlchemy</title><link>http://blog.local/pools</link>
<description>pool_size and max_overflow bound the connections an engine opens.</description>
<pubDate>Sat, 05 Dec 2026 10:00:00 GMT</pubDate></item>
<item><title>No link at all</title></item>
</channel></rss>"""

ATOM = """<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>ArXiv Query</title>
<id>http://arxiv.org/api/q</id><updated>2026-12-07T00:00:00Z</updated>
<entry><id>http://arxiv.org/abs/2412.00001v1</id><title>Retrieval augmented agents</title>
<summary>We study agents that retrieve documents before acting, with BM25 and dense
retrieval.</summary>
<published>2026-12-01T00:00:00Z</published><author><name>Grace Hopper</name></author>
<link href="http://arxiv.org/abs/2412.00001v1" rel="alternate" type="text/html"/></entry>
<entry><id>http://arxiv.org/abs/2412.00002v1</id><title>Scheduling with leases</title>
<summary>Leases with fencing tokens make task queues safe under crashes.</summary>
<published>2026-12-02T00:00:00Z</published><author><name>Leslie Lamport</name></author>
<link href="http://arxiv.org/abs/2412.00002v1" rel="alternate" type="text/html"/></entry>
</feed>"""


def questions(quota_remaining: int = 299, backoff: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "items": [
            {"question_id": 1, "accepted_answer_id": 11, "is_answered": True,
             "title": "How do I cancel an asyncio task?", "tags": ["python", "asyncio"],
             "body": "<p>I start a task with create_task; how do I stop it?</p>",
             "link": "https://stackoverflow.com/questions/1/cancel", "creation_date": 1700000000,
             "owner": {"display_name": "asker"}},
            {"question_id": 2, "is_answered": False, "title": "Why is my loop blocked?",
             "body": "<p>time.sleep inside a coroutine blocks everything.</p>",
             "link": "https://stackoverflow.com/questions/2/blocked", "creation_date": 1700000100,
             "owner": {"display_name": "other"}},
            {"question_id": 3, "title": None, "body": "malformed: no title, no link"},
        ],
        "has_more": False, "quota_max": 300, "quota_remaining": quota_remaining,
    }  # fmt: skip
    if backoff is not None:
        body["backoff"] = backoff
    return body


def answers(quota_remaining: int = 298) -> dict[str, Any]:
    return {
        "items": [{"answer_id": 11, "question_id": 1, "is_accepted": True,
                   "body": "<p>Call task.cancel() and await it, catching CancelledError.</p>",
                   "owner": {"display_name": "helper"}}],
        "has_more": False, "quota_max": 300, "quota_remaining": quota_remaining,
    }  # fmt: skip


def repositories() -> dict[str, Any]:
    return {
        "total_count": 2, "incomplete_results": False,
        "items": [
            {"full_name": "encode/httpx", "html_url": "https://github.com/encode/httpx",
             "description": "A next generation HTTP client for Python.", "topics": ["http"],
             "owner": {"login": "encode"}, "created_at": "2019-04-01T00:00:00Z"},
            {"full_name": "broken/item", "description": "no html_url"},
        ],
    }  # fmt: skip


def rate_headers(remaining: int, reset: int) -> dict[str, str]:
    return {"X-RateLimit-Limit": "60", "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Used": str(60 - remaining), "X-RateLimit-Reset": str(reset),
            "X-RateLimit-Resource": "search"}  # fmt: skip


@dataclass
class Answer:
    status: int = 200
    body: bytes | str | dict[str, Any] | list[Any] = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    """Seconds before answering (a timeout test)."""


@dataclass
class Received:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


def _defaults() -> dict[str, Answer]:
    feed_headers = {"Content-Type": "application/rss+xml", "ETag": ETAG,
                    "Last-Modified": LAST_MODIFIED}  # fmt: skip
    return {
        "/feed.xml": Answer(body=RSS, headers=feed_headers),
        "/2.3/questions": Answer(body=questions()),
        "/2.3/answers/11": Answer(body=answers()),
        "/search/repositories": Answer(
            body=repositories(), headers=rate_headers(59, 1_900_000_000)
        ),
        "/api/query": Answer(body=ATOM, headers={"Content-Type": "application/atom+xml"}),
    }


class KnowledgeServer:
    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.defaults = _defaults()
        self._script: dict[str, list[Answer]] = {}
        self._lock = threading.Lock()
        self.base_url = ""

    def script(self, path: str, *answers: Answer) -> None:
        with self._lock:
            self._script.setdefault(path, []).extend(answers)

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]

    def answer_for(self, path: str, headers: dict[str, str]) -> Answer:
        with self._lock:
            queued = self._script.get(path)
            if queued:
                return queued.pop(0)
        if path == "/feed.xml" and headers.get("if-none-match") == ETAG:
            return Answer(status=304, headers={"ETag": ETAG})
        return self.defaults.get(path, Answer(status=404, body={"message": "Not Found"}))


def _handler(server: KnowledgeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            headers = {k.lower(): v for k, v in self.headers.items()}
            server.requests.append(Received(parts.path, parse_qs(parts.query), headers))
            answer = server.answer_for(parts.path, headers)
            if answer.delay:
                time.sleep(answer.delay)
            body = answer.body
            if isinstance(body, dict | list):
                body = json.dumps(body)
            data = body.encode() if isinstance(body, str) else body
            try:
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test)

    return Handler


@contextmanager
def knowledge_server() -> Iterator[KnowledgeServer]:
    state = KnowledgeServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
