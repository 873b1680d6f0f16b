"""The marketing and advanced media intelligences and the seed's
``/api/v1/generate/image`` and ``/video``, end to end through the engine on SQLite and
PostgreSQL, against the local OpenAI-schema server: what each checks, the images' sizes
read from their bytes and the upscaling reported, the video measured with ffprobe, and
a 503 saying what to configure without an agent or without ffmpeg. (The web/app
builder, which needs the Sandbox, is tested in tests/integration/sandbox.)

The video tests need ffmpeg: skipped without it, except under CI, where they fail
(`make system-deps` installs it)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
from typing import Any

import httpx
import pytest

from tests.support.openai_server import OpenAIServer, Scripted, completion

from .conftest import KEY_ENV

BASE = "/api/v1/intelligence"


@pytest.fixture
def ffmpeg() -> None:
    if shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None:
        message = "no ffmpeg: `make system-deps` installs it (apt-get install ffmpeg)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


async def register(client: httpx.AsyncClient, kind: str, capability: str, **config: Any) -> None:
    body = {"agent_id": f"{kind}-1", "type": kind, "capabilities": [capability],
            "config": config}  # fmt: skip
    response = await client.post("/api/v1/agents", json=body)
    assert response.status_code == 201, response.text


def backend(server: OpenAIServer, **more: Any) -> dict[str, Any]:
    return {"base_url": server.base_url, "model": "m", "api_key_env": KEY_ENV, **more}


async def test_marketing_through_the_engine(
    client: httpx.AsyncClient, server: OpenAIServer
) -> None:
    await register(client, "marketing", "marketing", **backend(server))
    copy = {"social": ["Smart Watch Pro: your runs, mapped."], "email": ["Smart Watch Pro " * 40]}
    fixed = {**copy, "email": ["Meet Smart Watch Pro, GPS and heart rate on your wrist."]}
    server.script(Scripted(200, completion(json.dumps(copy), "m", 50, 20)),
                  Scripted(200, completion(json.dumps(fixed), "m", 80, 20)))  # fmt: skip
    campaign = {"product": {"name": "Smart Watch Pro"}, "channels": ["social", "email"],
                "variants": 1, "keywords": ["Smart Watch Pro"], "budget": 25000}  # fmt: skip
    response = await client.post(f"{BASE}/marketing/execute", json=campaign)
    assert response.status_code == 200, response.text
    result = response.json()["result"]["creative"]
    assert (result["constraints_met"], result["attempts"]) == (True, 2)
    assert result["channels"]["email"][0]["characters"] == len(fixed["email"][0])
    assert (
        "email variant 1: 639 characters (limit 600)"
        in (server.requests[1].body["messages"][1]["content"])
    )
    figures = (await client.get(f"{BASE}/marketing/metrics")).json()
    assert (figures["attempts"], figures["succeeded"], figures["tokens"]) == (1, 1, 170)


async def test_the_generate_routes_say_what_to_configure(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/generate/image", json={"prompt": "A futuristic city"})
    assert response.status_code == 503
    assert "--type media -c image_generation" in response.json()["detail"]
    for route, body, says in [  # malformed: 422 before anything else, even with no agent
        ("image", {"prompt": 5}, 'needs "prompt"'),
        ("image", {"prompt": "p", "n": 9}, "n must be a whole number from 1 to 4"),
        ("image", {"prompt": "p", "resolution": "huge"}, "WIDTHxHEIGHT"),
        ("video", {"prompt": "p", "duration": 1e308}, "duration must be"),
        ("video", {"prompt": "p", "fps": 2**64}, "fps must be"),
        ("video", {"prompt": "p", "codec": "vp9"}, "codec must be one of h264, h265"),
    ]:
        refused = await client.post(f"/api/v1/generate/{route}", json=body)
        assert refused.status_code == 422, (route, body, refused.text)
        assert says in refused.json()["detail"], refused.text
    await register(client, "media", "video_generation")  # no backend in its config
    response = await client.post("/api/v1/generate/video", json={"prompt": "clouds"})
    assert response.status_code == 503
    assert "set base_url and model" in response.json()["detail"]
    missing = await client.get("/api/v1/generate/no-such-task/content")
    assert missing.status_code == 404
    assert "holds no generated media" in missing.json()["detail"]


async def test_an_image_above_what_the_backend_makes_is_upscaled_and_says_so(
    client: httpx.AsyncClient, server: OpenAIServer
) -> None:
    pytest.importorskip("PIL", reason="resizing needs Pillow (the media extra)")
    from PIL import Image

    await register(client, "media", "image_generation",
                   **backend(server, model="img", sizes=["256x256", "512x512"]))  # fmt: skip
    seed = {"prompt": "A futuristic city", "style": "vivid", "resolution": "768x768"}
    response = await client.post("/api/v1/generate/image", json=seed)
    assert response.status_code == 200, response.text
    [image] = response.json()["result"]["images"]
    assert (image["size"], image["backend_size"]) == ("768x768", "512x512")
    assert image["resized"] == {"how": "upscaled", "from": "512x512", "to": "768x768",
                                "method": "Pillow Image.resize, LANCZOS filter"}  # fmt: skip
    assert server.requests[-1].body["size"] == "512x512"
    served = await client.get(f"/api/v1/generate/{response.json()['id']}/content")
    assert served.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(served.content)).size == (768, 768)
    assert image["stored"] == "artefact"
    assert "data_base64" not in image
    assert image["artefact"]["sha256"] == hashlib.sha256(served.content).hexdigest()
    assert (await client.get(image["artefact"]["url"])).content == served.content


async def test_video_from_generated_frames_is_h264_measured_by_ffprobe(
    client: httpx.AsyncClient, server: OpenAIServer, ffmpeg: None
) -> None:
    await register(client, "advanced_media", "advanced_media",
                   **backend(server, image_model="img", sizes=["256x256"]))  # fmt: skip
    plan = {"title": "Launch", "shots": [
        {"description": "dawn", "image_prompt": "a watch at dawn", "camera": "static",
         "duration_s": 1.5},
        {"description": "run", "image_prompt": "a runner", "camera": "pan",
         "duration_s": 0.5}]}  # fmt: skip
    server.script(Scripted(200, completion(json.dumps(plan), "m", 20, 60)))
    seed = {"media_type": "video", "prompt": "Product demonstration", "resolution": "320x240",
            "fps": 10, "duration": 2, "shots": 2}  # fmt: skip
    response = await client.post(f"{BASE}/advanced_media/execute", json=seed)
    assert response.status_code == 200, response.text
    result = response.json()["result"]
    video = result["video"]
    measured = video["measured"]
    assert (measured["codec"], measured["width"], measured["height"]) == ("h264", 320, 240)
    assert measured["duration_s"] == pytest.approx(2.0, abs=0.15)
    assert measured["fps"] == 10.0
    assert (video["resized"]["from"], video["resized"]["to"]) == ("256x256", "320x240")
    assert [r.body["prompt"] for r in server.requests[1:]] == ["a watch at dawn", "a runner"]
    served = await client.get(f"/api/v1/generate/{response.json()['id']}/content")
    assert served.headers["content-type"] == "video/mp4"
    assert served.content[4:8] == b"ftyp"


async def test_the_video_route_encodes_keyframes_or_says_to_install_ffmpeg(
    client: httpx.AsyncClient, server: OpenAIServer, ffmpeg: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    await register(client, "media", "video_generation",
                   **backend(server, model="img", sizes=["256x256"]))  # fmt: skip
    seed = {"prompt": "Flying through clouds", "duration": 1, "fps": 5, "frames": 2,
            "resolution": "256x256", "style": "natural"}  # fmt: skip
    response = await client.post("/api/v1/generate/video", json=seed)
    assert response.status_code == 200, response.text
    video = response.json()["result"]["video"]
    assert (video["measured"]["codec"], video["measured"]["frames"], video["resized"]) == (
        "h264", 5, None)  # fmt: skip
    assert [r.body["prompt"] for r in server.requests] == [
        "Flying through clouds (frame 1 of 2)",
        "Flying through clouds (frame 2 of 2)",
    ]

    url = f"/api/v1/generate/{response.json()['id']}/content"
    whole = (await client.get(url)).content
    assert len(whole) == video["bytes"]
    head = await client.get(url, headers={"range": "bytes=0-99"})
    assert (head.status_code, head.content) == (206, whole[:100])
    assert head.headers["content-range"] == f"bytes 0-99/{len(whole)}"
    tail = await client.get(url, headers={"range": "bytes=-10"})
    assert (tail.status_code, tail.content) == (206, whole[-10:])
    beyond = await client.get(url, headers={"range": f"bytes={len(whole)}-"})
    assert (beyond.status_code, beyond.headers["content-range"]) == (416, f"bytes */{len(whole)}")

    monkeypatch.setattr("imperium.agents._media.shutil.which", lambda name: None)
    server.reset()
    response = await client.post("/api/v1/generate/video", json=seed)
    assert response.status_code == 503
    assert "apt-get install ffmpeg" in response.json()["detail"]
    assert server.requests == []  # no frame was paid for
