"""Generated media in the artefact store, end to end on SQLite and PostgreSQL against the
local OpenAI-schema server: an H.265 video made through ``/api/v1/generate/video`` is a
file the result references (not base64 in the row), downloaded whole and by ``Range``
(206, exact bytes; 416 beyond the end); after a restart with a smaller retention limit
the routine removes it and its downloads answer 410. Results written before the store
(base64 in the row) are still served, as themselves only when they are images or videos
(text/html or SVG goes out as an octet-stream attachment). A missing artefact's 404
names no server directory.

Needs ffmpeg with libx265: skipped without it, except under CI, where it fails."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from imperium.interfaces.api import create_app
from imperium.runtime import Imperium
from imperium.settings import Settings
from tests.support.openai_server import OpenAIServer, png

from .conftest import KEY_ENV

SEED = {"prompt": "Flying through clouds", "duration": 1, "fps": 5, "frames": 2,
        "resolution": "256x256", "codec": "h265"}  # fmt: skip


@pytest.fixture
def ffmpeg() -> None:
    if shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None:
        message = "no ffmpeg: `make system-deps` installs it (apt-get install ffmpeg)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@asynccontextmanager
async def serving(url: str, artefacts: Path, **more: Any) -> AsyncIterator[
    tuple[Imperium, httpx.AsyncClient]
]:  # fmt: skip
    settings = Settings(
        database_url=url, poll_interval=0.05, drain_seconds=0.2, retry_base_seconds=0.01,
        retry_cap_seconds=0.05, builtin_agents="", artefact_dir=str(artefacts), **more,
    )  # fmt: skip
    runtime = await Imperium.open(settings, migrate=False)
    await runtime.start()
    try:
        transport = httpx.ASGITransport(app=create_app(runtime))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            yield runtime, http
    finally:
        await runtime.close()


async def register(http: httpx.AsyncClient, agent_id: str, kind: str, **config: Any) -> None:
    body = {"agent_id": agent_id, "type": kind, "config": config,
            "capabilities": ["video_generation", "image_generation"]}  # fmt: skip
    response = await http.post("/api/v1/agents", json=body)
    assert response.status_code == 201, response.text


async def test_an_h265_video_is_an_artefact_served_by_range_until_retention_removes_it(
    migrated_database_url: str, server: OpenAIServer, ffmpeg: None, tmp_path: Path
) -> None:
    artefacts = tmp_path / "artefacts"
    async with serving(migrated_database_url, artefacts) as (_, http):
        await register(http, "painter", "media", base_url=server.base_url, model="img",
                       api_key_env=KEY_ENV, sizes=["256x256"])  # fmt: skip
        response = await http.post("/api/v1/generate/video", json=SEED)
        assert response.status_code == 200, response.text
        task = response.json()
        video = task["result"]["video"]
        assert (video["codec"], video["measured"]["codec"], video["measured"]["tag"]) == (
            "h265", "hevc", "hvc1")  # fmt: skip
        assert (video["measured"]["width"], video["measured"]["fps"]) == (256, 5.0)
        assert "data_base64" not in video
        assert len(json.dumps(task["result"])) < 2000
        reference = video["artefact"]
        url = reference["url"]
        assert url == f"/api/v1/artefacts/{reference['artefact_id']}"
        assert (artefacts / f"{reference['artefact_id']}.bin").stat().st_size == video["bytes"]

        whole = await http.get(url)
        assert (whole.status_code, whole.headers["content-type"]) == (200, "video/mp4")
        assert whole.headers["accept-ranges"] == "bytes"
        assert int(whole.headers["content-length"]) == reference["bytes"] == len(whole.content)
        assert hashlib.sha256(whole.content).hexdigest() == reference["sha256"]
        assert whole.content[4:8] == b"ftyp"
        head = await http.get(url, headers={"range": "bytes=100-199"})
        assert (head.status_code, head.content) == (206, whole.content[100:200])
        assert head.headers["content-range"] == f"bytes 100-199/{len(whole.content)}"
        assert head.headers["content-length"] == "100"
        tail = await http.get(url, headers={"range": "bytes=-10"})
        assert (tail.status_code, tail.content) == (206, whole.content[-10:])
        beyond = await http.get(url, headers={"range": f"bytes={len(whole.content)}-"})
        assert beyond.status_code == 416
        assert beyond.headers["content-range"] == f"bytes */{len(whole.content)}"
        by_task = await http.get(f"/api/v1/generate/{task['id']}/content")
        assert by_task.content == whole.content
        record = (await http.get(f"{url}/meta")).json()
        assert (record["task_id"], record["size"]) == (task["id"], len(whole.content))

        for bad in ("..%2F..%2Fetc%2Fpasswd", "ABC", "0" * 31 + "g"):
            refused = await http.get(f"/api/v1/artefacts/{bad}")
            assert refused.status_code in (404, 422), refused.text
        unknown = await http.post("/api/v1/generate/video", json={**SEED, "codec": "vp9"})
        assert unknown.status_code == 422
        assert "codec must be one of h264, h265" in unknown.json()["detail"]

    # a restart with a limit the video is over: the routine removes it
    async with serving(migrated_database_url, artefacts, artefact_max_bytes=100) as (im, http):
        assert im.routines is not None
        routine = await im.routines.run_now("artefact_retention")
        assert routine.last_result["removed"] == 1, routine.last_result
        gone = await http.get(url)
        assert gone.status_code == 410
        assert "removed by the retention limit (max_total_bytes" in gone.json()["detail"]
        assert (await http.get(f"/api/v1/generate/{task['id']}/content")).status_code == 410
        assert not (artefacts / f"{reference['artefact_id']}.bin").exists()


async def test_results_from_before_the_store_are_still_served(
    migrated_database_url: str, tmp_path: Path
) -> None:
    image = png(4, 4)
    old = {"images": [{"mime": "image/png", "data_base64": base64.b64encode(image).decode()}]}
    async with serving(migrated_database_url, tmp_path / "a") as (_, http):
        body = {"agent_id": "echo-1", "type": "echo", "capabilities": ["image_generation"]}
        assert (await http.post("/api/v1/agents", json=body)).status_code == 201
        submitted = await http.post(
            "/api/v1/tasks", json={"type": "image_generation", "payload": old},
            params={"wait": 20},
        )  # fmt: skip
        assert submitted.status_code == 201, submitted.text
        served = await http.get(f"/api/v1/generate/{submitted.json()['id']}/content")
        assert (served.status_code, served.content) == (200, image)
        part = await http.get(f"/api/v1/generate/{submitted.json()['id']}/content",
                              headers={"range": "bytes=0-7"})  # fmt: skip
        assert (part.status_code, part.content) == (206, image[:8])


async def test_only_images_and_videos_are_served_as_themselves(
    migrated_database_url: str, tmp_path: Path
) -> None:
    image, page = png(4, 4), b"<script>alert(document.cookie)</script>"
    items = [{"mime": mime, "data_base64": base64.b64encode(data).decode()}
             for mime, data in (("image/png", image), ("text/html", page),
                                ("image/svg+xml", page))]  # fmt: skip
    async with serving(migrated_database_url, tmp_path / "a") as (_, http):
        body = {"agent_id": "echo-1", "type": "echo", "capabilities": ["image_generation"]}
        assert (await http.post("/api/v1/agents", json=body)).status_code == 201
        submitted = await http.post(
            "/api/v1/tasks", json={"type": "image_generation", "payload": {"images": items}},
            params={"wait": 20},
        )  # fmt: skip
        assert submitted.status_code == 201, submitted.text
        url = f"/api/v1/generate/{submitted.json()['id']}/content"
        served = await http.get(url)
        assert (served.status_code, served.content) == (200, image)
        assert served.headers["content-type"] == "image/png"
        for index in (1, 2):  # text/html, image/svg+xml
            other = await http.get(url, params={"index": index})
            assert (other.status_code, other.content) == (200, page)
            assert other.headers["content-type"] == "application/octet-stream"
            assert other.headers["content-disposition"].startswith("attachment")


async def test_a_missing_artefact_answers_404_without_the_directory(
    migrated_database_url: str, tmp_path: Path
) -> None:
    artefacts = tmp_path / "a"
    async with serving(migrated_database_url, artefacts) as (_, http):
        missing = await http.get(f"/api/v1/artefacts/{'f' * 32}")
    assert missing.status_code == 404
    detail = missing.json()["detail"]
    assert f"no artefact {'f' * 32}" in detail
    assert str(artefacts) not in detail
    assert str(tmp_path) not in detail
