"""``/api/v1/intelligence``: the seed's master intelligences, each a task type run by
agents through the engine. ``list`` says which are built and served; ``{type}/execute``
submits one and waits for its end (``wait`` seconds, then 202 with the task to follow);
``{type}/metrics`` comes from its recorded attempts. Nothing configured: 503 saying what
to configure; not built: 501.

``/api/v1/generate/image`` and ``/video`` (the seed's image and video routes) run the same
way as the task types ``image_generation`` and ``video_generation``; the task's result
holds references to the files in the artefact store, which ``routes/artefacts.py``
serves."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from fastapi.responses import JSONResponse

from imperium.domain.media import check_media_request
from imperium.interfaces.api.deps import Scheduler, Usage
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
    ``image_generation`` (503 saying what to configure when no agent can do it; a payload
    no media agent would take is a 422 first)."""
    check_media_request("image_generation", payload)
    return await _run(_service(engine, usage), "image_generation", payload, wait)


@generate_router.post("/video", response_model=None)
async def generate_video(
    engine: Scheduler, usage: Usage, payload: Annotated[dict[str, Any], Body()], wait: Wait = 600
) -> dict[str, Any] | JSONResponse:
    """The seed's video route: ``{"prompt", "duration", "resolution", "fps", "style",
    "frames", "codec"}`` as a task of type ``video_generation`` (ffmpeg: codec h264, the
    default, or h265). A payload no media agent would take is a 422 before anything else."""
    check_media_request("video_generation", payload)
    return await _run(_service(engine, usage), "video_generation", payload, wait)


@router.get("/{kind}/metrics")
async def metrics(kind: str, engine: Scheduler, usage: Usage) -> dict[str, Any]:
    return await _service(engine, usage).metrics(kind, engine.clock.now())
