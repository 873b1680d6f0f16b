"""``/ui/events``: committed events as Server-Sent Events, for the pages' live updates.

Each event is one ``data:`` line of JSON (type, time, task, agent; not its data, which
the pages read over their own routes). A comment every ``KEEPALIVE`` seconds keeps proxies
from closing an idle stream; the stream ends when the scheduler stops dispatching (so a
stopping server is not held open by a browser) and after ``MAX_SECONDS`` (the browser's
EventSource reconnects by itself), so a session that was signed out stops receiving.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response, StreamingResponse

from imperium.domain.models import Event
from imperium.interfaces.api.deps import services_of
from imperium.interfaces.dashboard.access import viewer
from imperium.interfaces.dashboard.pages import finish

router = APIRouter(include_in_schema=False)

BUFFER = 500  # events buffered for a slow browser before the oldest are dropped
KEEPALIVE = 15.0
WAKE = 1.0  # seconds between checks that the server is still dispatching
MAX_SECONDS = 300.0
RETRY_MS = 1000  # how soon the browser reconnects


def sse(event: Event) -> bytes:
    body = {
        "event_type": event.event_type,
        "created_at": event.created_at,
        "task_id": event.task_id,
        "agent_id": event.agent_id,
    }
    return b"data: " + orjson.dumps(body) + b"\n\n"


async def _events(request: Request) -> AsyncIterator[bytes]:
    services = services_of(request.app)
    started = last_sent = time.monotonic()
    with services.events.subscribe(BUFFER) as subscription:
        yield f"retry: {RETRY_MS}\n\n".encode()
        while services.engine.dispatching and time.monotonic() - started < MAX_SECONDS:
            events = await subscription.next_batch(WAKE)
            dropped = subscription.take_dropped()
            if dropped:
                yield b"event: gap\ndata: " + str(dropped).encode() + b"\n\n"
            if events:
                yield b"".join(sse(event) for event in events)
                last_sent = time.monotonic()
            elif time.monotonic() - last_sent >= KEEPALIVE:
                yield b": keepalive\n\n"
                last_sent = time.monotonic()


@router.get("/ui/events")
async def events(request: Request) -> Response:
    who = await viewer(request)
    response = StreamingResponse(_events(request), media_type="text/event-stream")
    response.headers["X-Accel-Buffering"] = "no"  # nginx: pass events on at once
    return finish(request, who, response)
