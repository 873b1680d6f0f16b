"""SecurityHeadersMiddleware as a pure ASGI wrapper, without an app or a server."""

from __future__ import annotations

from starlette.types import Message, Receive, Scope, Send

from imperium.interfaces.api.middleware import API_CSP, DOCS_CSP, SecurityHeadersMiddleware

OWN = [(b"content-type", b"text/plain"), (b"X-Frame-Options", b"SAMEORIGIN")]


async def _answer(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": OWN})
    await send({"type": "http.response.body", "body": b"ok"})


async def _headers(path: str) -> list[tuple[bytes, bytes]]:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    scope = {"type": "http", "path": path, "method": "GET", "headers": []}
    await SecurityHeadersMiddleware(_answer, docs_paths={"/docs"})(scope, receive, send)
    return list(sent[0]["headers"])


async def test_adds_what_the_response_does_not_set_and_keeps_what_it_does() -> None:
    headers = await _headers("/api/v1/tasks")
    assert headers[: len(OWN)] == OWN
    added = dict(headers[len(OWN) :])
    assert b"x-frame-options" not in added  # the response's own value, in any case, stays
    assert added[b"x-content-type-options"] == b"nosniff"
    assert added[b"referrer-policy"] == b"no-referrer"
    assert added[b"cross-origin-opener-policy"] == b"same-origin"
    assert added[b"content-security-policy"] == API_CSP.encode()
    assert OWN == [(b"content-type", b"text/plain"), (b"X-Frame-Options", b"SAMEORIGIN")]


async def test_the_docs_get_their_own_policy() -> None:
    headers = dict(await _headers("/docs"))
    assert headers[b"content-security-policy"] == DOCS_CSP.encode()
