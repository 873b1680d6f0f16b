"""Input limits: refuse oversized or hostile JSON before any route sees it.

Every HTTP request body is buffered up to ``max_body_bytes`` (413 beyond it, early when
``Content-Length`` already says so). A JSON body (``application/json``, ``*/*+json``, or no
content type, which FastAPI also reads as JSON) is parsed once and walked; the first value
over a limit is answered 422 ``application/problem+json`` naming its JSON path::

    $.payload.text is 12000 characters long; the limit is 10000 — ...

The generic limits (from the seed API): strings — keys too — at most ``MAX_STRING_CHARS``
characters and no NUL bytes; lists at most ``MAX_LIST_ITEMS`` items; objects at most
``MAX_OBJECT_KEYS`` keys; containers nested at most ``MAX_DEPTH`` deep (the body itself is
level 1); no ``NaN``/``Infinity`` (not JSON, though Python's parser takes them) and no
number beyond a 64-bit float (``1e400``, which the parser would turn into infinity and
storage into null).

One exception: a top-level ``tasks`` list (``$.tasks``, the batch of a workflow, dispatch or
orchestrate request) or ``pending_tasks`` list (``$.pending_tasks``, of optimize-resources)
may hold ``MAX_TASKS_PER_REQUEST`` items; everything inside each task is under the generic
limits. Route-specific limits (objective length, resource ranges, the
tasks of one request) belong to the route schemas, which import the constants below.

A body that is not valid JSON is passed on unchanged, so FastAPI reports it as before.
A route that reads its body itself checks it with :func:`first_violation` and answers
:func:`violation_problem`, as the middleware does.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from imperium.interfaces.api import problems

MAX_STRING_CHARS = 10_000
MAX_LIST_ITEMS = 1_000
MAX_OBJECT_KEYS = 1_000
MAX_DEPTH = 10
MAX_TASKS_PER_REQUEST = 10_000
MAX_OBJECTIVE_CHARS = 1_000
MAX_CPU = 1_024
MAX_MEMORY_MB = 1_024_000
MAX_GPU = 64
DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024

TASK_LISTS = frozenset({"tasks", "pending_tasks"})
"""Top-level keys whose list may hold ``MAX_TASKS_PER_REQUEST`` items."""

_SCALARS = (int, float, bool, type(None))
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_ELSEWHERE = "store large data elsewhere and pass a reference"
_FLATTEN = f"the limit is {MAX_DEPTH} — flatten the data or {_ELSEWHERE}"


@dataclass(frozen=True)
class Violation:
    """The first value over a limit: where it is (a JSON path) and what is wrong."""

    path: str
    message: str

    @property
    def detail(self) -> str:
        return f"{self.path} {self.message}"


class _NonFinite(str):
    """``NaN``, ``Infinity`` or ``-Infinity`` as Python's parser found it."""


class _Overflow(_NonFinite):
    """A number too large for a 64-bit float (``1e400``), as written in the body."""


def _finite_float(text: str) -> float | _Overflow:
    number = float(text)
    return number if math.isfinite(number) else _Overflow(text)


@dataclass
class _Found:
    """A violation on its way up: path parts are added innermost first."""

    message: str
    parts: list[str | int] = field(default_factory=list)

    def under(self, part: str | int) -> _Found:
        self.parts.append(part)
        return self

    def violation(self) -> Violation:
        return Violation(_render(reversed(self.parts)), self.message)


def first_violation(value: Any) -> Violation | None:
    """The first value in ``value`` (decoded JSON), depth first, that breaks a limit."""
    found = _walk(value, 0, MAX_LIST_ITEMS, top=True)
    return found.violation() if found else None


def check_json_body(body: bytes) -> Violation | None:
    """Parse ``body`` and check it; None when it is within limits or is not JSON at all."""
    try:
        return first_violation(orjson.loads(body))
    except orjson.JSONDecodeError:
        pass  # orjson refuses NaN, 1e400, lone surrogates, deep nesting: ask FastAPI's parser
    try:
        found = json.loads(body, parse_constant=_NonFinite, parse_float=_finite_float)
        return first_violation(found)
    except RecursionError:
        return Violation("$", f"is nested too deep to parse; {_FLATTEN}")
    except ValueError:  # not JSON (or not UTF-8): FastAPI answers it as it always has
        return None


def violation_problem(violation: Violation) -> JSONResponse:
    """The 422 ``application/problem+json`` answer to a value over a limit."""
    errors = [{"where": violation.path, "message": violation.message}]
    return problems.problem(422, "Unprocessable Content", violation.detail, errors=errors)


def is_json_media_type(content_type: str | None) -> bool:
    """Whether ``content_type`` is ``application/json`` or ``application/*+json``."""
    if content_type is None:
        return False
    media = content_type.partition(";")[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def _walk(value: Any, depth: int, max_items: int, *, top: bool = False) -> _Found | None:
    if isinstance(value, _SCALARS):
        return None
    if isinstance(value, str):
        return _string_problem(value)
    if depth >= MAX_DEPTH:
        return _Found(f"is nested {depth + 1} levels deep; {_FLATTEN}")
    if isinstance(value, list):
        return _walk_list(value, depth, max_items)
    return _walk_object(value, depth, top)


def _walk_list(items: list[Any], depth: int, max_items: int) -> _Found | None:
    if len(items) > max_items:
        return _Found(f"has {len(items)} items; the limit is {max_items} — send fewer per request")
    for index, item in enumerate(items):
        if not isinstance(item, _SCALARS) and (found := _walk(item, depth + 1, MAX_LIST_ITEMS)):
            return found.under(index)
    return None


def _walk_object(fields: dict[str, Any], depth: int, top: bool) -> _Found | None:
    if len(fields) > MAX_OBJECT_KEYS:
        return _Found(f"has {len(fields)} keys; the limit is {MAX_OBJECT_KEYS} — {_ELSEWHERE}")
    for key, item in fields.items():
        if found := _string_problem(key, key=True):
            return found
        max_items = MAX_TASKS_PER_REQUEST if top and key in TASK_LISTS else MAX_LIST_ITEMS
        if not isinstance(item, _SCALARS) and (found := _walk(item, depth + 1, max_items)):
            return found.under(key)
    return None


def _string_problem(text: str, *, key: bool = False) -> _Found | None:
    if isinstance(text, _Overflow):
        return _Found(
            f"is {text}, a number beyond the range of a 64-bit float (it would be stored "
            "as null) — send a smaller number, or the number as a string"
        )
    if isinstance(text, _NonFinite):
        return _Found(
            f"must be a finite number, not {text}: JSON has no NaN or Infinity — "
            "send null or a string instead"
        )
    subject = "has a key" if key else "is"
    if len(text) > MAX_STRING_CHARS:
        return _Found(
            f"{subject} {len(text)} characters long; the limit is {MAX_STRING_CHARS} — "
            f"send shorter strings or {_ELSEWHERE}"
        )
    if "\x00" in text:
        subject = "has a key with" if key else "contains"
        return _Found(f"{subject} a NUL byte (\\u0000); remove it")
    return None


def _render(parts: Iterable[str | int]) -> str:
    path = "$"
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        elif _IDENTIFIER.match(part):
            path += f".{part}"
        else:
            path += f"[{json.dumps(part)}]"
    return path


# ---------------------------------------------------------------------------- ASGI
class BodyLimitMiddleware:
    """Buffers each HTTP request body (at most ``max_body_bytes``), checks a JSON body with
    :func:`check_json_body`, then replays it to ``app``. Other scopes pass untouched."""

    def __init__(self, app: ASGIApp, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = Headers(scope=scope) if scope["type"] == "http" else None
        if headers is None or not _has_body(headers):
            await self.app(scope, receive, send)
            return
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._too_large(scope, receive, send)
            return
        try:
            body = await _read_body(receive, self.max_body_bytes)
        except _ClientGoneError:
            return
        if body is None:
            await self._too_large(scope, receive, send)
            return
        violation = check_json_body(body) if _is_json(headers) else None
        if violation is not None:
            await violation_problem(violation)(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        detail = (
            f"the request body is larger than {self.max_body_bytes} bytes; send less per "
            f"request or {_ELSEWHERE}"
        )
        await problems.problem(413, "Content Too Large", detail)(scope, receive, send)


class _ClientGoneError(Exception):
    """The client disconnected while sending its body: there is no one to answer."""


def _has_body(headers: Headers) -> bool:
    return "transfer-encoding" in headers or headers.get("content-length", "0") != "0"


def _is_json(headers: Headers) -> bool:
    content_type = headers.get("content-type")
    if content_type is None:
        return True  # FastAPI reads a body without a content type as JSON
    return is_json_media_type(content_type)


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None as soon as it grows past ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _ClientGoneError
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives the buffered body once, then what the client sends
    (a disconnect, which long-polls watch for)."""
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay
