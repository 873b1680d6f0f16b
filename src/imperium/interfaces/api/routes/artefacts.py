"""Generated files: ``/api/v1/artefacts/{id}`` (the download URL a task's result gives,
with ``/meta`` for its record) and the seed's ``/api/v1/generate/{task_id}/content``
(``index`` picks an image). Files are sent by Starlette's ``FileResponse``: one or more
``Range: bytes=`` spans answered 206, 416 beyond the end. A removed artefact answers 410.
Only an image or video type is served as itself (never SVG, a document that may carry
script); anything else goes out as ``application/octet-stream``, an attachment.

Results written before the artefact store held base64 (``data_base64``); those are still
served, from the task row."""

from __future__ import annotations

import asyncio
import base64
import binascii
import mimetypes
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, BinaryIO

import anyio
from fastapi import APIRouter, Header, Query
from fastapi.responses import FileResponse, Response

from imperium.domain.artefacts import ArtefactGoneError, check_id
from imperium.domain.errors import NotFoundError, ValidationError
from imperium.interfaces.api.deps import Artefacts, Queries
from imperium.ports import ArtefactStore

router = APIRouter(prefix="/api/v1/artefacts", tags=["generate"])
generate_router = APIRouter(prefix="/api/v1/generate", tags=["generate"])
Range = Annotated[str | None, Header(alias="range")]


@router.get("/{artefact_id}", response_model=None)
async def download(artefact_id: str, store: Artefacts, range_: Range = None) -> Response:
    """The file's bytes, with its content type and its sha256 as the ETag."""
    return await _serve(store, artefact_id, range_)


@router.get("/{artefact_id}/meta")
async def meta(artefact_id: str, store: Artefacts) -> dict[str, Any]:
    """The record: content type, size, sha256, created_at, the task that made it."""
    artefact = await store.get(artefact_id)
    return {**artefact.as_dict(), **artefact.reference()}


@generate_router.get("/{task_id}/content", response_model=None)
async def content(
    task_id: str,
    queries: Queries,
    store: Artefacts,
    index: Annotated[int, Query(ge=0)] = 0,
    range_: Range = None,
) -> Response:
    """The bytes of a generated image (``index``) or video of the task's result; one
    ``Range: bytes=`` span is answered 206 (players seek in a video that way)."""
    item = await _item(queries, task_id, index)
    reference = item.get("artefact")
    if isinstance(reference, dict) and isinstance(reference.get("artefact_id"), str):
        return await _serve(store, reference["artefact_id"], range_)
    if not isinstance(item.get("data_base64"), str):
        raise ValidationError(f"item {index} was answered as a URL: {item.get('url')}")
    try:
        data = base64.b64decode(item["data_base64"], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise NotFoundError(f"item {index} of task {task_id} is not readable media") from exc
    mime, disposition = _served_type(item.get("mime"))
    return _bytes(data, mime, range_, {"content-disposition": disposition})


MEDIA_TYPE = re.compile(r"(?:image|video)/[a-z0-9][a-z0-9.+-]{0,126}")
"""The stored types served as themselves: what the media agents make (image/png,
image/jpeg, image/webp, video/mp4) and other images and videos, without parameters."""


def _served_type(stored: object) -> tuple[str, str]:
    """The content type and disposition to serve a stored type with: an image or video
    type inline; anything else (text/html from a remote worker's result, SVG, which can
    carry script) as ``application/octet-stream``, an attachment, so a browser never
    renders it as a page from this server."""
    mime = stored.strip().lower() if isinstance(stored, str) else ""
    if MEDIA_TYPE.fullmatch(mime) and mime != "image/svg+xml":
        return mime, "inline"
    return "application/octet-stream", "attachment"


async def _item(queries: Queries, task_id: str, index: int) -> dict[str, Any]:
    task = await queries.get_task(task_id)
    result = task.result if task is not None else None
    if not isinstance(result, dict):
        raise NotFoundError(f"task {task_id} holds no generated media")
    media = result.get("video") or result.get("images") or []
    items = [media] if isinstance(media, dict) else media
    if index >= len(items) or not isinstance(items[index], dict):
        raise NotFoundError(f"task {task_id} has {len(items)} generated item(s)")
    item: dict[str, Any] = items[index]
    return item


async def _serve(store: ArtefactStore, artefact_id: str, range_: str | None) -> Response:
    artefact = await store.get(check_id(artefact_id))
    headers = {"etag": f'"{artefact.sha256}"'}
    mime, disposition = _served_type(artefact.content_type)
    path = store.file_path(artefact)
    if path is None:  # a store without files (memory)
        headers["content-disposition"] = disposition
        return _bytes(await store.read(artefact.id), mime, range_, headers)
    try:
        opened = await asyncio.to_thread(open, path, "rb")
    except FileNotFoundError as exc:  # removed between the record and here
        raise ArtefactGoneError(f"artefact {artefact.id} was just removed") from exc
    suffix = mimetypes.guess_extension(mime) or ""
    return _OpenedFileResponse(
        opened, path, media_type=mime, headers=headers,
        stat_result=os.fstat(opened.fileno()), filename=f"{artefact.id}{suffix}",
        content_disposition_type=disposition,
    )  # fmt: skip


class _OpenedFileResponse(FileResponse):
    """A FileResponse over a file opened before the response starts: retention may
    unlink the path meanwhile (a download racing the removal of the oldest artefacts),
    and Starlette opens the path only after sending the status line, so the download
    broke mid-response; an open file stays readable until it is closed."""

    def __init__(self, opened: BinaryIO, path: str, **kwargs: Any) -> None:
        self._opened = opened
        super().__init__(path, **kwargs)

    @asynccontextmanager
    async def _open_file(self) -> AsyncIterator[anyio.AsyncFile[bytes]]:
        yield anyio.wrap_file(self._opened)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        extensions = scope.get("extensions") or {}
        if "http.response.pathsend" in extensions:  # that would send the path, not the file
            scope = {**scope, "extensions": {k: v for k, v in extensions.items()
                                             if k != "http.response.pathsend"}}  # fmt: skip
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._opened.close()


def _bytes(
    data: bytes, mime: str, range_: str | None, headers: dict[str, str] | None = None
) -> Response:
    headers = {**(headers or {}), "accept-ranges": "bytes"}
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
    found = re.fullmatch(r"\s*bytes=(\d{0,18})-(\d{0,18})\s*", header)
    if found is None or found.group(1) == found.group(2) == "":
        return None
    first, last = found.group(1), found.group(2)
    if first == "":
        start, end = max(0, size - int(last)), size - 1
    else:
        start, end = int(first), min(size - 1, int(last)) if last else size - 1
    return (start, end) if size and start <= end else (-1, -1)
