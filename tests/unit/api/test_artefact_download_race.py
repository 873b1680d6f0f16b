"""A download that retention races: the artefact's file is unlinked after the route
checked it and before the response sends its bytes (Starlette opens the path only after
the status line went out, so the client got a 200 and a broken body)."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import pytest

from imperium.adapters.artefacts.files import FileArtefactStore
from imperium.domain.artefacts import ArtefactGoneError
from imperium.interfaces.api.routes.artefacts import _serve


class WallClock:
    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()


async def _send_all(response: Any, headers: list[tuple[bytes, bytes]]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "headers": headers, "asgi": {"spec_version": "2.4"}}
    await response(scope, receive, send)
    return sent


@pytest.mark.parametrize("range_", [None, "bytes=2-5"])
async def test_a_file_removed_after_the_check_is_still_sent_whole(
    tmp_path: Path, range_: str | None
) -> None:
    store = FileArtefactStore(tmp_path, WallClock())
    artefact = await store.put(b"0123456789", "video/mp4", task_id=None)
    response = await _serve(store, artefact.id, range_)
    await asyncio.to_thread(
        os.unlink, str(store.file_path(artefact))
    )  # retention, between the check and the send
    headers = [(b"range", range_.encode())] if range_ else []
    sent = await _send_all(response, headers)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert sent[0]["status"] == (206 if range_ else 200)
    assert body == (b"2345" if range_ else b"0123456789")


async def test_a_file_removed_before_the_check_is_gone(tmp_path: Path) -> None:
    store = FileArtefactStore(tmp_path, WallClock())
    artefact = await store.put(b"0123456789", "video/mp4", task_id=None)
    await asyncio.to_thread(os.unlink, str(store.file_path(artefact)))
    with pytest.raises(ArtefactGoneError):
        await _serve(store, artefact.id, None)
