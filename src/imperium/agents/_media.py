"""What the media agents share: images through the ``ImageModel`` port, resized with
Pillow (the ``media`` extra) when the requested resolution is not one the backend makes;
video encoded from frames with ffmpeg (H.264 with libx264, or H.265 with libx265), then
measured with ffprobe; and the files kept in the artefact store the server lends
(``ctx.services["artefacts"]``), the result holding references to them.

Nothing here makes pixels itself: every frame comes from the image backend; resizing and
encoding are reported in the result (``resized``: from, to, method)."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import shutil
import struct
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from imperium.agents.base import TaskContext, TaskFailed
from imperium.domain.artefacts import ArtefactTooLargeError
from imperium.domain.errors import ValidationError
from imperium.domain.images import ImageRequest, sniff_mime
from imperium.domain.llm import ModelCallError
from imperium.domain.media import backend_size, codec_name
from imperium.ports import ArtefactStore, ImageModel

NOT_CONFIGURED = "not_configured"
INLINE = "inline: no artefact store is lent to agents running here (remote workers, Ray)"
RESIZE_METHOD = "Pillow Image.resize, LANCZOS filter"


def pixel_size(data: bytes) -> tuple[int, int] | None:
    """Width and height read from the image's own header (PNG without Pillow; any format
    Pillow reads when it is installed)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    try:
        from PIL import Image
    except ImportError:
        return None
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except OSError:
        return None


def _resize(data: bytes, size: tuple[int, int]) -> bytes:
    try:
        from PIL import Image
    except ImportError as exc:
        raise TaskFailed(
            "the requested resolution is not one the image backend makes, and resizing needs "
            "Pillow: pip install 'imperium[media]' (or ask for one of the backend's sizes)",
            kind=NOT_CONFIGURED, retryable=False,
        ) from exc  # fmt: skip
    with Image.open(io.BytesIO(data)) as image:
        out = io.BytesIO()
        image.convert("RGB").resize(size, Image.Resampling.LANCZOS).save(out, format="PNG")
    return out.getvalue()


def _failed(exc: ModelCallError) -> TaskFailed:
    return TaskFailed(str(exc), kind=exc.kind, retryable=exc.retryable)


@dataclass(frozen=True, slots=True)
class Made:
    """Images from the backend: what the result says of each, their bytes (None where the
    backend answered a URL), and the tokens it reported."""

    items: list[dict[str, Any]]
    data: list[bytes | None]
    tokens: int | None


async def make_images(
    backend: ImageModel, model: str, prompts: list[str], wanted: tuple[int, int],
    sizes: list[str], style: str | None = None,
) -> Made:  # fmt: skip
    """One image per prompt at ``wanted``; each says the size the backend reported (read
    from the image's header) and how it was resized, if it was. Also the tokens reported."""
    ask = backend_size(wanted, sizes)
    made: list[dict[str, Any]] = []
    datas: list[bytes | None] = []
    tokens: list[int] = []
    for prompt in prompts:
        request = ImageRequest(model, prompt, f"{ask[0]}x{ask[1]}", 1, style=style)
        try:
            result = await backend.generate(request)
        except ModelCallError as exc:
            raise _failed(exc) from exc
        tokens += [t for t in (result.input_tokens, result.output_tokens) if t is not None]
        image = result.images[0]
        if image.data is None:
            if ask != wanted:
                raise TaskFailed("the image backend answered with a URL, so the image "
                                 "cannot be resized; configure it to answer b64_json",
                                 kind="bad_response", retryable=False)  # fmt: skip
            made.append({"prompt": prompt, "url": image.url, "size": request.size,
                         "backend_size": None, "resized": None,
                         "revised_prompt": image.revised_prompt})  # fmt: skip
            datas.append(None)
            continue
        got = pixel_size(image.data)
        if got is None:
            raise TaskFailed("the image backend's answer is not an image this server can "
                             "read", kind="bad_response", retryable=False)  # fmt: skip
        data, resized = image.data, None
        if got != wanted:
            data = _resize(image.data, wanted)
            how = "upscaled" if got[0] * got[1] < wanted[0] * wanted[1] else "resized"
            resized = {"how": how, "from": f"{got[0]}x{got[1]}",
                       "to": f"{wanted[0]}x{wanted[1]}", "method": RESIZE_METHOD}  # fmt: skip
        made.append({
            "prompt": prompt, "mime": sniff_mime(data), "size": f"{wanted[0]}x{wanted[1]}",
            "backend_size": f"{got[0]}x{got[1]}", "resized": resized,
            "revised_prompt": image.revised_prompt, "bytes": len(data),
        })  # fmt: skip
        datas.append(data)
    return Made(made, datas, sum(tokens) if tokens else None)


class Keeper:
    """Where an attempt's generated files go: the artefact store the server lends
    (``ctx.services["artefacts"]``; the result holds a reference), or, where none is lent
    (remote workers, Ray), base64 inside the result, saying so."""

    def __init__(self, ctx: TaskContext) -> None:
        self.store: ArtefactStore | None = ctx.services.get("artefacts")
        self.task_id = ctx.task_id

    async def keep(self, data: bytes, mime: str) -> dict[str, Any]:
        if self.store is None:
            return {"stored": INLINE, "data_base64": base64.b64encode(data).decode()}
        try:
            artefact = await self.store.put(data, mime, task_id=self.task_id)
        except ArtefactTooLargeError as exc:
            raise TaskFailed(str(exc), kind="bad_payload", retryable=False) from exc
        return {"stored": "artefact", "artefact": artefact.reference()}

    async def keep_images(self, made: Made) -> list[dict[str, Any]]:
        items = []
        for item, data in zip(made.items, made.data, strict=True):
            kept = {} if data is None else await self.keep(data, item["mime"])
            items.append({**item, **kept})
        return items


@dataclass(frozen=True, slots=True)
class Codec:
    name: str
    encoder: str
    options: tuple[str, ...]
    probe_name: str
    """What ffprobe calls the stream's codec."""


CODECS = {
    "h264": Codec("h264", "libx264", ("-preset", "veryfast"), "h264"),
    # hvc1, not ffmpeg's default hev1: QuickTime, Safari and iOS play only hvc1 in MP4
    "h265": Codec("h265", "libx265", ("-preset", "veryfast", "-x265-params",
                                      "log-level=error", "-tag:v", "hvc1"), "hevc"),
}  # fmt: skip
_ENCODERS: dict[str, frozenset[str]] = {}
"""The encoders each ffmpeg binary lists (asked once per process)."""


def require_ffmpeg() -> tuple[str, str]:
    ffmpeg, ffprobe = shutil.which("ffmpeg"), shutil.which("ffprobe")
    if ffmpeg is None or ffprobe is None:
        raise TaskFailed(
            "video needs ffmpeg and ffprobe, which are not installed on the machine running "
            "this agent: apt-get install ffmpeg (make system-deps installs it)",
            kind=NOT_CONFIGURED, retryable=False,
        )  # fmt: skip
    return ffmpeg, ffprobe


async def require_encoder(codec: Codec, limit: float = 30.0) -> tuple[str, str]:
    """ffmpeg and ffprobe, with ``codec``'s encoder compiled in (checked before any frame
    is paid for)."""
    ffmpeg, ffprobe = require_ffmpeg()
    if ffmpeg not in _ENCODERS:
        listing = (await _run([ffmpeg, "-hide_banner", "-encoders"], limit)).decode()
        found = (line.split() for line in listing.splitlines())
        _ENCODERS[ffmpeg] = frozenset(p[1] for p in found if len(p) > 1)
    if codec.encoder not in _ENCODERS[ffmpeg]:
        raise TaskFailed(
            f"{codec.name} video needs ffmpeg's {codec.encoder} encoder, which the ffmpeg at "
            f"{ffmpeg} lacks: install a build with it (Debian's ffmpeg package has it: "
            f"apt-get install ffmpeg), or ask for codec h264",
            kind=NOT_CONFIGURED, retryable=False,
        )  # fmt: skip
    return ffmpeg, ffprobe


async def _run(argv: list[str], limit: float) -> bytes:
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), limit)
    except (TimeoutError, asyncio.CancelledError):
        proc.kill()
        await proc.wait()
        raise
    if proc.returncode != 0:
        raise TaskFailed(f"{Path(argv[0]).name} failed ({proc.returncode}): "
                         f"{err.decode(errors='replace')[-500:]}", kind="encode_error",
                         retryable=False)  # fmt: skip
    return out


async def encode_video(
    frames: list[bytes], seconds: list[float], size: tuple[int, int], fps: int, limit: float,
    codec: Codec = CODECS["h264"],
) -> tuple[bytes, dict[str, Any]]:  # fmt: skip
    """An MP4 (``codec``: H.264 or H.265) showing each of ``frames`` for its ``seconds``, at
    ``fps``, scaled to ``size`` (ffmpeg's lanczos scaler), and what ffprobe measures of it."""
    ffmpeg, ffprobe = await require_encoder(codec, limit)
    total = sum(seconds)
    with tempfile.TemporaryDirectory(prefix="imperium-video-") as tmp:
        lines = ["ffconcat version 1.0"]
        for i, (frame, span) in enumerate(zip(frames, seconds, strict=True)):
            (Path(tmp) / f"frame_{i:04d}.png").write_bytes(frame)
            lines += [f"file frame_{i:04d}.png", f"duration {span:.3f}"]
        lines.append(f"file frame_{len(frames) - 1:04d}.png")  # the concat demuxer's last
        (Path(tmp) / "frames.txt").write_text("\n".join(lines) + "\n")
        out = Path(tmp) / "video.mp4"
        await _run([
            ffmpeg, "-nostdin", "-y", "-loglevel", "error", "-f", "concat", "-safe", "0",
            "-i", str(Path(tmp) / "frames.txt"),
            "-vf", f"scale={size[0]}:{size[1]}:flags=lanczos,fps={fps},format=yuv420p",
            "-c:v", codec.encoder, *codec.options, "-t", f"{total:.3f}",
            "-movflags", "+faststart", str(out),
        ], limit)  # fmt: skip
        probe = json.loads(await _run([
            ffprobe, "-v", "error", "-select_streams", "v:0", "-show_entries",
            "stream=codec_name,codec_tag_string,width,height,avg_frame_rate,nb_frames"
            ":format=duration",
            "-of", "json", str(out),
        ], limit))  # fmt: skip
        data = out.read_bytes()
    stream = (probe.get("streams") or [{}])[0]
    measured = {
        "codec": stream.get("codec_name"), "tag": stream.get("codec_tag_string"),
        "width": stream.get("width"),
        "height": stream.get("height"), "frames": _int(stream.get("nb_frames")),
        "fps": _rate(stream.get("avg_frame_rate")),
        "duration_s": _float(probe.get("format", {}).get("duration")),
    }  # fmt: skip
    if measured["codec"] != codec.probe_name:
        raise TaskFailed(f"ffprobe reads the encoded video as {measured['codec']}, not "
                         f"{codec.probe_name}", kind="encode_error", retryable=False)  # fmt: skip
    return data, measured


def parse_codec(value: object) -> Codec:
    """The payload's ``codec`` (default h264; hevc is h265)."""
    try:
        return CODECS[codec_name(value)]
    except ValidationError as exc:
        raise TaskFailed(str(exc), kind="bad_payload", retryable=False) from exc


def _int(value: object) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


def _float(value: object) -> float | None:
    try:
        return round(float(str(value)), 3)
    except ValueError:
        return None


def _rate(value: object) -> float | None:
    try:
        return round(float(Fraction(str(value))), 3)
    except (ValueError, ZeroDivisionError):
        return None
