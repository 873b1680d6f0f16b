"""Media requests as values: resolutions by name or WIDTHxHEIGHT, the size to ask an image
backend for when the requested one is not among the sizes it makes, and the shot plan the
advanced media intelligence asks a language model for, checked against its schema. Pure."""

from __future__ import annotations

import math
from typing import Any

from imperium.domain.errors import ValidationError
from imperium.domain.images import parse_size

NAMED = {
    "8k": (7680, 4320), "4k": (3840, 2160), "2k": (2560, 1440), "1440p": (2560, 1440),
    "1080p": (1920, 1080), "720p": (1280, 720), "480p": (854, 480),
}  # fmt: skip
OPENAI_SIZES = ("1024x1024", "1792x1024", "1024x1792")
"""What the OpenAI images API makes with dall-e-3; an image agent's ``sizes`` overrides it."""


MAX_FRAMES = 16
"""Keyframes of one video (each is one image from the backend)."""
MAX_IMAGES = 4
MAX_SECONDS = 60.0
MAX_FPS = 60
CODEC_NAMES = ("h264", "h265")
CODEC_ALIASES = {"hevc": "h265", "avc": "h264", "h.264": "h264", "h.265": "h265"}


def prompt_of(payload: object) -> tuple[dict[str, Any], str]:
    """The payload as an object and its stripped ``prompt``."""
    if (
        not isinstance(payload, dict)
        or not isinstance(payload.get("prompt"), str)
        or not payload["prompt"].strip()
    ):
        raise ValidationError('the payload needs "prompt" (the text describing the media)')
    return payload, payload["prompt"].strip()


def whole(payload: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = payload.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationError(f"{name} must be a whole number from {low} to {high}")
    return value


def seconds(payload: dict[str, Any], default: float = 5) -> float:
    """The payload's ``duration``: a number of seconds in (0, MAX_SECONDS]."""
    value = payload.get("duration", default)
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not 0 < value <= MAX_SECONDS
    ):
        raise ValidationError(f"duration must be a number of seconds up to {MAX_SECONDS:g}")
    return float(value)


def codec_name(value: object) -> str:
    """The payload's ``codec`` as h264 or h265 (hevc and avc are other names for them)."""
    name = CODEC_ALIASES.get(value.lower(), value.lower()) if isinstance(value, str) else None
    if name not in CODEC_NAMES:
        raise ValidationError(
            f"codec must be one of {', '.join(CODEC_NAMES)} (hevc names h265), not {value!r}"
        )
    return name


def check_media_request(task_type: str, payload: object) -> None:
    """What every media agent refuses in an ``image_generation`` or ``video_generation``
    payload, checked before any agent is asked, so that a malformed request is a 422 even
    where no agent serves it (an agent's own limits, such as its maximum resolution, are
    checked by the agent)."""
    request, _ = prompt_of(payload)
    if "resolution" in request:
        parse_resolution(request["resolution"])
    if task_type == "image_generation":
        whole(request, "n", 1, 1, MAX_IMAGES)
        return
    duration = seconds(request)
    whole(request, "fps", 24, 1, MAX_FPS)
    whole(request, "frames", min(MAX_FRAMES, max(1, math.ceil(duration))), 1, MAX_FRAMES)
    codec_name(request.get("codec", "h264"))


def parse_resolution(value: object) -> tuple[int, int]:
    """``"1024x768"``, or a name (8K, 4K, 2K, 1440p, 1080p, 720p, 480p), as (w, h)."""
    if not isinstance(value, str):
        raise ValidationError("resolution must be a string: WIDTHxHEIGHT or 8K, 4K, 1080p...")
    named = NAMED.get(value.strip().lower())
    if named is not None:
        return named
    width, height = parse_size(value.strip().lower())
    if not (16 <= width <= 16384 and 16 <= height <= 16384):
        raise ValidationError("resolution must be between 16 and 16384 pixels a side")
    return width, height


def backend_size(wanted: tuple[int, int], sizes: list[str]) -> tuple[int, int]:
    """The size to ask the backend for: ``wanted`` when it makes it, else the one of
    ``sizes`` closest in aspect ratio (the larger on a tie), to be resized to ``wanted``."""
    made = [parse_size(s) for s in sizes]
    if wanted in made:
        return wanted
    ratio = math.log(wanted[0] / wanted[1])
    return min(made, key=lambda s: (round(abs(math.log(s[0] / s[1]) - ratio), 6), -s[0] * s[1]))


def check_plan(plan: dict[str, Any] | None, shots: int, duration: float | None) -> list[str]:
    """What is wrong with a shot plan ``{"title", "shots": [{"description", "image_prompt",
    "camera", "duration_s"}]}``: ``shots`` entries with non-empty texts, and, for a video,
    positive durations adding up to ``duration`` within 0.5 s."""
    if plan is None:
        return ["the reply was not a JSON object"]
    problems = [] if isinstance(plan.get("title"), str) and plan["title"].strip() else [
        'no "title" text']  # fmt: skip
    found = plan.get("shots")
    if not isinstance(found, list):
        return [*problems, 'no "shots" list']
    if len(found) != shots:
        problems.append(f"{len(found)} shots instead of {shots}")
    total = 0.0
    for i, shot in enumerate(found, 1):
        if not isinstance(shot, dict):
            problems.append(f"shot {i} is not an object")
            continue
        for name in ("description", "image_prompt", "camera"):
            if not (isinstance(shot.get(name), str) and shot[name].strip()):
                problems.append(f'shot {i}: no "{name}" text')
        if duration is not None:
            seconds = shot.get("duration_s")
            if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds <= 0:
                problems.append(f'shot {i}: "duration_s" is not a positive number')
            else:
                total += float(seconds)
    if duration is not None and not problems and abs(total - duration) > 0.5:
        problems.append(f"the shots last {total:g} s in all instead of {duration:g} s")
    return problems
