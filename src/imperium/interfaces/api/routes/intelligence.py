"""``/api/v1/intelligence``: the seed's master intelligences, each a task type run by
agents through the engine. ``list`` says which are built and served; ``{type}/execute``
submits one and waits for its end (``wait`` seconds, then 202 with the task to follow);
``{type}/metrics`` comes from its recorded attempts. Nothing configured: 503 saying what
to configure; not built: 501.

``/api/v1/generate/image`` and ``/video`` (the seed's image and video routes) run the same
way as the task types ``image_generation`` and ``video_generation``; the task's result
holds the media base64-encoded, and ``/api/v1/generate/{task_id}/content`` serves it as
bytes (``index`` picks an image)."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Query
from fastapi.responses import JSONResponse, Response

from imperium.domain.errors import NotFoundError, ValidationError
from imperium.interfaces.api.deps import Queries, Scheduler, Usage
from imperium.interfaces.api.problems import problem
from imperium.interfaces.records import task_dict
from imperium.services.intelligence import (
    AttemptFailedError,
    IntelligenceService,
    NotBuiltError,
    NotConfiguredError,
)

router = APIRouter(prefix="/api/v1/intelligence", tags=["intelligence"])
generate_router = APIRouter(prefix="/api/v1/generate", tags=["generate"])
Wait = Annotated[float, Query(gt=0, le=600, description="Seconds to wait for the end")]


def _service(engine: Scheduler, usage: Usage) -> IntelligenceService:
    return IntelligenceService(engine, usage.store)


@router.get("/list")
async def list_intelligences(engine: Scheduler, usage: Usage) -> dict[str, Any]:
    return {"items": _service(engine, usage).list()}


@router.post("/{kind}/execute", response_model=None)
async def execute(
    kind: str,
    engine: Scheduler,
    usage: Usage,
    payload: Annotated[dict[str, Any], Body()],
    wait: Wait = 120,
) -> dict[str, Any] | JSONResponse:
    return await _run(_service(engine, usage), kind, payload, wait)


async def _run(
    service: IntelligenceService, kind: str, payload: dict[str, Any], wait: float
) -> dict[str, Any] | JSONResponse:
    try:
        task = await service.execute(kind, payload, wait)
    except NotConfiguredError as exc:
        return problem(503, "Service Unavailable", str(exc))
    except NotBuiltError as exc:
        return problem(501, "Not Implemented", str(exc))
    except AttemptFailedError as exc:
        return problem(502, "Bad Gateway", str(exc), task_id=exc.task.id,
                       error_kind=exc.task.error_kind)  # fmt: skip
    body = task_dict(task)
    if not task.state.is_terminal:
        return JSONResponse(body, status_code=202)
    return body


@generate_router.post("/image", response_model=None)
async def generate_image(
    engine: Scheduler, usage: Usage, payload: Annotated[dict[str, Any], Body()], wait: Wait = 300
) -> dict[str, Any] | JSONResponse:
    """The seed's image route: ``{"prompt", "resolution", "style", "n"}`` as a task of type
    ``image_generation`` (503 saying what to configure when no agent can do it)."""
    return await _run(_service(engine, usage), "image_generation", payload, wait)


@generate_router.post("/video", response_model=None)
async def generate_video(
    engine: Scheduler, usage: Usage, payload: Annotated[dict[str, Any], Body()], wait: Wait = 600
) -> dict[str, Any] | JSONResponse:
    """The seed's video route: ``{"prompt", "duration", "resolution", "fps", "style",
    "frames"}`` as a task of type ``video_generation`` (H.264 by ffmpeg)."""
    return await _run(_service(engine, usage), "video_generation", payload, wait)


@generate_router.get("/{task_id}/content", response_model=None)
async def content(
    task_id: str,
    queries: Queries,
    index: Annotated[int, Query(ge=0)] = 0,
    range_: Annotated[str | None, Header(alias="range")] = None,
) -> Response:
    """The bytes of a generated image (``index``) or video held by the task's result; one
    ``Range: bytes=`` span is answered 206 (players seek in a video that way)."""
    task = await queries.get_task(task_id)
    result = task.result if task is not None else None
    if not isinstance(result, dict):
        raise NotFoundError(f"task {task_id} holds no generated media")
    media = result.get("video") or result.get("images") or []
    items = [media] if isinstance(media, dict) else media
    if index >= len(items) or not isinstance(items[index], dict):
        raise NotFoundError(f"task {task_id} has {len(items)} generated item(s)")
    item = items[index]
    if not isinstance(item.get("data_base64"), str):
        raise ValidationError(f"item {index} was answered as a URL: {item.get('url')}")
    try:
        data = base64.b64decode(item["data_base64"], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise NotFoundError(f"item {index} of task {task_id} is not readable media") from exc
    mime = item.get("mime") or "application/octet-stream"
    headers = {"accept-ranges": "bytes"}
    span = _span(range_, len(data)) if range_ else None
    if span is None:
        return Response(data, media_type=mime, headers=headers)
    if span == (-1, -1):
        return Response(status_code=416, headers={"content-range": f"bytes */{len(data)}"})
    start, end = span
    headers["content-range"] = f"bytes {start}-{end}/{len(data)}"
    return Response(data[start : end + 1], 206, media_type=mime, headers=headers)


def _span(header: str, size: int) -> tuple[int, int] | None:
    """One ``bytes=a-b`` / ``a-`` / ``-n`` span as inclusive (start, end); (-1, -1) when it
    cannot be satisfied; None for what is not one byte span (the whole body is sent)."""
    found = re.fullmatch(r"\s*bytes=(\d*)-(\d*)\s*", header)
    if found is None or found.group(1) == found.group(2) == "":
        return None
    first, last = found.group(1), found.group(2)
    if first == "":
        start, end = max(0, size - int(last)), size - 1
    else:
        start, end = int(first), min(size - 1, int(last)) if last else size - 1
    return (start, end) if size and start <= end else (-1, -1)


@router.get("/{kind}/metrics")
async def metrics(kind: str, engine: Scheduler, usage: Usage) -> dict[str, Any]:
    return await _service(engine, usage).metrics(kind, engine.clock.now())
