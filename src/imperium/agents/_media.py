"""What the media agents share: images through the ``ImageModel`` port, resized with
Pillow (the ``media`` extra) when the requested resolution is not one the backend makes,
and video encoded from frames with ffmpeg (H.264, libx264), then measured with ffprobe.

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
from fractions import Fraction
from pathlib import Path
from typing import Any

from imperium.agents.base import TaskFailed
from imperium.domain.images import ImageRequest, sniff_mime
from imperium.domain.llm import ModelCallError
from imperium.domain.media import backend_size
from imperium.ports import ImageModel

NOT_CONFIGURED = "not_configured"
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


async def make_images(
    backend: ImageModel, model: str, prompts: list[str], wanted: tuple[int, int],
    sizes: list[str], style: str | None = None,
) -> tuple[list[dict[str, Any]], int | None]:  # fmt: skip
    """One image per prompt at ``wanted``; each says the size the backend reported (read
    from the image's header) and how it was resized, if it was. Also the tokens reported."""
    ask = backend_size(wanted, sizes)
    made: list[dict[str, Any]] = []
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
            "data_base64": base64.b64encode(data).decode(),
        })  # fmt: skip
    return made, (sum(tokens) if tokens else None)


def require_ffmpeg() -> tuple[str, str]:
    ffmpeg, ffprobe = shutil.which("ffmpeg"), shutil.which("ffprobe")
    if ffmpeg is None or ffprobe is None:
        raise TaskFailed(
            "video needs ffmpeg and ffprobe, which are not installed on the machine running "
            "this agent: apt-get install ffmpeg (make system-deps installs it)",
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
    frames: list[bytes], seconds: list[float], size: tuple[int, int], fps: int, limit: float
) -> tuple[bytes, dict[str, Any]]:
    """An H.264 MP4 showing each of ``frames`` for its ``seconds``, at ``fps``, scaled to
    ``size`` (ffmpeg's lanczos scaler), and what ffprobe measures of it."""
    ffmpeg, ffprobe = require_ffmpeg()
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
            "-c:v", "libx264", "-preset", "veryfast", "-t", f"{total:.3f}",
            "-movflags", "+faststart", str(out),
        ], limit)  # fmt: skip
        probe = json.loads(await _run([
            ffprobe, "-v", "error", "-select_streams", "v:0", "-show_entries",
            "stream=codec_name,width,height,avg_frame_rate,nb_frames:format=duration",
            "-of", "json", str(out),
        ], limit))  # fmt: skip
        data = out.read_bytes()
    stream = (probe.get("streams") or [{}])[0]
    measured = {
        "codec": stream.get("codec_name"), "width": stream.get("width"),
        "height": stream.get("height"), "frames": _int(stream.get("nb_frames")),
        "fps": _rate(stream.get("avg_frame_rate")),
        "duration_s": _float(probe.get("format", {}).get("duration")),
    }  # fmt: skip
    return data, measured


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
