"""The media agents' codecs (a real H.265 encode measured by ffprobe; an ffmpeg without
libx265 refused, saying what to install) and where their files go (the artefact store the
server lends, or inline where none is).

The encode needs ffmpeg: skipped without it, except under CI, where it fails
(`make system-deps` installs it)."""

from __future__ import annotations

import base64
import os
import shutil

import pytest

from imperium.adapters.artefacts.memory import MemoryArtefactStore
from imperium.agents import _media
from imperium.agents._media import CODECS, Keeper, encode_video, parse_codec, require_encoder
from imperium.agents.base import TaskContext, TaskFailed
from imperium.domain.artefacts import RetentionPolicy
from tests.support.openai_server import png


class Clock:
    def now(self) -> float:
        return 1.0

    def monotonic(self) -> float:
        return 1.0


@pytest.fixture
def ffmpeg() -> None:
    if shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None:
        message = "no ffmpeg: `make system-deps` installs it (apt-get install ffmpeg)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def context(**services: object) -> TaskContext:
    return TaskContext("t1", "video_generation", {}, 1, "painter", services=dict(services))


@pytest.mark.parametrize(("asked", "codec"), [("h264", "libx264"), ("H265", "libx265"),
                                             ("hevc", "libx265"), ("avc", "libx264")])  # fmt: skip
def test_codecs_by_name(asked: str, codec: str) -> None:
    assert parse_codec(asked).encoder == codec


@pytest.mark.parametrize("asked", ["vp9", "", None, 265])
def test_an_unknown_codec_is_a_bad_payload_naming_the_known_ones(asked: object) -> None:
    with pytest.raises(TaskFailed, match="codec must be one of h264, h265") as caught:
        parse_codec(asked)
    assert (caught.value.kind, caught.value.retryable) == ("bad_payload", False)


async def test_h265_frames_are_encoded_hvc1_and_measured_by_ffprobe(ffmpeg: None) -> None:
    frames = [png(128, 96, (200, 40, 40)), png(128, 96, (40, 200, 40))]
    data, measured = await encode_video(frames, [0.5, 0.5], (160, 120), 4, 60, CODECS["h265"])
    assert data[4:8] == b"ftyp"
    assert (measured["codec"], measured["tag"]) == ("hevc", "hvc1")
    assert (measured["width"], measured["height"], measured["fps"]) == (160, 120, 4.0)
    assert measured["frames"] == 4
    assert measured["duration_s"] == pytest.approx(1.0, abs=0.1)


async def test_an_ffmpeg_without_libx265_is_refused_saying_what_to_install(
    ffmpeg: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_media, "_ENCODERS", {shutil.which("ffmpeg"): frozenset({"libx264"})})
    await require_encoder(CODECS["h264"])
    with pytest.raises(TaskFailed, match="libx265 encoder, which the ffmpeg at") as caught:
        await require_encoder(CODECS["h265"])
    assert caught.value.kind == "not_configured"
    assert "apt-get install ffmpeg" in str(caught.value)


async def test_files_go_to_the_lent_store_and_the_result_holds_a_reference() -> None:
    store = MemoryArtefactStore(Clock())
    kept = await Keeper(context(artefacts=store)).keep(b"mp4 bytes", "video/mp4")
    assert kept["stored"] == "artefact"
    assert "data_base64" not in kept
    artefact = await store.get(kept["artefact"]["artefact_id"])
    assert (artefact.task_id, artefact.size) == ("t1", 9)
    assert kept["artefact"]["url"] == f"/api/v1/artefacts/{artefact.id}"


async def test_where_no_store_is_lent_the_bytes_stay_inline_saying_why() -> None:
    kept = await Keeper(context()).keep(b"mp4 bytes", "video/mp4")
    assert base64.b64decode(kept["data_base64"]) == b"mp4 bytes"
    assert "no artefact store is lent" in kept["stored"]


async def test_a_file_over_the_stores_whole_limit_fails_the_task_saying_why() -> None:
    store = MemoryArtefactStore(Clock(), RetentionPolicy(max_total_bytes=4))
    with pytest.raises(TaskFailed, match="IMPERIUM_ARTEFACT_MAX_BYTES") as caught:
        await Keeper(context(artefacts=store)).keep(b"mp4 bytes", "video/mp4")
    assert caught.value.kind == "bad_payload"
