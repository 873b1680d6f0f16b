"""Media agents over the model backends.

``media`` (task types ``image_generation`` and ``video_generation``, the seed's
``/api/v1/generate/image`` and ``/video``): config as ``llm`` with ``model`` naming the
IMAGE model (e.g. ``dall-e-3``), plus ``sizes`` (what the backend makes; default the
OpenAI sizes 1024x1024, 1792x1024, 1024x1792), ``max_video_resolution`` (default
1920x1080), ``max_image_resolution`` (default 4096x4096: a resized image is held in
memory whole, about 1.2 GB at 16384x16384) and ``encode_timeout`` (s, default 600). An
image at a resolution the backend does not make is generated at the closest size it makes
and resized with Pillow, and the result says so (``resized``: how, from, to, method). A
video is ``frames`` keyframes from the image backend (prompts "PROMPT (frame i of n)"),
each shown for an equal share of the duration, encoded by ffmpeg (``codec``: h264 with
libx264, or h265 with libx265) and measured with ffprobe. The files go to the artefact
store the server lends; the result holds references (``artefact``: id, content type,
bytes, sha256, download url).

``advanced_media`` (the seed's advanced media intelligence): a shot plan from the chat
model (``model``), checked against its schema (domain/media.py) and asked for once more
when it breaks it; with ``image_model`` configured each shot's image prompt is generated
through the images API, and a video is encoded from them with each shot's duration.
Without ``image_model`` the result is the plan, saying that no images were made.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from imperium.adapters.models.openai_images import OpenAIImages
from imperium.agents._media import Codec, Keeper, make_images, parse_codec, require_encoder
from imperium.agents._media import encode_video as encode
from imperium.agents.base import Output, TaskContext, TaskFailed
from imperium.agents.llm import LlmAgent
from imperium.domain.errors import ValidationError
from imperium.domain.generated import json_object
from imperium.domain.images import parse_size
from imperium.domain.llm import ChatReply
from imperium.domain.media import (
    MAX_FPS,
    MAX_FRAMES,
    MAX_IMAGES,
    OPENAI_SIZES,
    backend_size,
    check_plan,
    parse_resolution,
    prompt_of,
    whole,
)
from imperium.domain.media import (
    seconds as duration_of,
)
from imperium.ports import ImageModel

P = ParamSpec("P")
T = TypeVar("T")


def _bad(message: str) -> TaskFailed:
    return TaskFailed(message, kind="bad_payload", retryable=False)


def _checked(check: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``check(...)`` (a domain/media.py check), its refusal failing the attempt as
    ``bad_payload``."""
    try:
        return check(*args, **kwargs)
    except ValidationError as exc:
        raise _bad(str(exc)) from exc


class _ImageBackend(LlmAgent):
    """An ``llm``-configured agent that also reaches the images API at its ``base_url``."""

    image_model_key = "model"

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        self._images: ImageModel | None = None
        try:
            self.sizes = [f"{w}x{h}" for w, h in (parse_size(s) for s in self._sizes())]
            self.max_video = parse_resolution(self.config.get("max_video_resolution", "1080p"))
            self.max_image = parse_resolution(self.config.get("max_image_resolution", "4096x4096"))
        except ValidationError as exc:
            raise ValidationError(f"media config: {exc}") from exc
        timeout = self.config.get("encode_timeout", 600)
        self.encode_timeout = float(timeout) if isinstance(timeout, (int, float)) else 600.0

    @classmethod
    def check_config(cls, config: dict[str, Any], *, key_envs: str | None = None) -> None:
        """As ``llm``, and ``sizes`` and the maximum resolutions readable (422 at
        registration)."""
        super().check_config(config, key_envs=key_envs)
        cls(config)

    def _sizes(self) -> list[str]:
        sizes = self.config.get("sizes", list(OPENAI_SIZES))
        if not isinstance(sizes, list) or not sizes or not all(isinstance(s, str) for s in sizes):
            raise ValidationError("'sizes' must be a list of WIDTHxHEIGHT strings")
        return sizes

    def image_model(self) -> str | None:
        value = self.config.get(self.image_model_key)
        return value if isinstance(value, str) and value else None

    def image_backend(self) -> ImageModel:
        if self._images is None:
            self.check_backend()
            cfg = self.model_config
            key = os.environ.get(cfg.api_key_env) if cfg.api_key_env else None
            assert cfg.base_url is not None
            self._images = OpenAIImages(
                cfg.base_url,
                key,
                timeout=cfg.timeout,
                max_retries=cfg.max_retries,
                max_retry_wait=cfg.max_retry_wait,
            )
        return self._images

    def video_size(self, payload: dict[str, Any]) -> tuple[int, int]:
        size = self.resolution(payload, "1280x720")
        if size[0] * size[1] > self.max_video[0] * self.max_video[1]:
            raise _bad(
                f"resolution {size[0]}x{size[1]} is above this agent's "
                f"max_video_resolution ({self.max_video[0]}x{self.max_video[1]})"
            )
        if size[0] % 2 or size[1] % 2:
            raise _bad("a video's width and height must be even (yuv420p)")
        return size

    def image_size(self, payload: dict[str, Any]) -> tuple[int, int]:
        size = self.resolution(payload, "1024x1024")
        if size[0] * size[1] > self.max_image[0] * self.max_image[1]:
            raise _bad(
                f"resolution {size[0]}x{size[1]} is above this agent's "
                f"max_image_resolution ({self.max_image[0]}x{self.max_image[1]})"
            )
        return size

    @staticmethod
    def resolution(payload: dict[str, Any], default: str) -> tuple[int, int]:
        return _checked(parse_resolution, payload.get("resolution", default))

    async def video(
        self,
        keeper: Keeper,
        prompts: list[str],
        seconds: list[float],
        size: tuple[int, int],
        fps: int,
        style: Any,
        codec: Codec,
    ) -> tuple[dict[str, Any], int | None]:
        await require_encoder(codec)  # before any image is paid for
        frame_size = backend_size(size, self.sizes)
        frames = await make_images(
            self.image_backend(),
            self.image_model() or "",
            prompts,
            frame_size,
            self.sizes,
            _style(style),
        )
        if any(d is None for d in frames.data):
            raise TaskFailed("the image backend answered with URLs, so no video can be "
                             "encoded; configure it to answer b64_json",
                             kind="bad_response", retryable=False)  # fmt: skip
        data, measured = await encode(
            [d for d in frames.data if d is not None],
            seconds,
            size,
            fps,
            self.encode_timeout,
            codec,
        )
        scaled = None
        if frame_size != size:
            scaled = {
                "how": "upscaled"
                if frame_size[0] * frame_size[1] < size[0] * size[1]
                else "resized",
                "from": f"{frame_size[0]}x{frame_size[1]}",
                "to": f"{size[0]}x{size[1]}",
                "method": "ffmpeg scale filter, lanczos",
            }
        return {
            "mime": "video/mp4",
            "codec": codec.name,
            "bytes": len(data),
            "measured": measured,
            "resized": scaled,
            "frames": frames.items,
            **(await keeper.keep(data, "video/mp4")),
        }, frames.tokens

    async def teardown(self) -> None:
        if self._images is not None:
            await self._images.close()
            self._images = None
        await super().teardown()


def _style(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


class MediaAgent(_ImageBackend):
    description = "Images and video (ffmpeg, H.264 or H.265) from an OpenAI-compatible images API."

    async def run(self, ctx: TaskContext) -> Output:
        payload, prompt = _checked(prompt_of, ctx.payload)
        self.check_backend()
        keeper = Keeper(ctx)
        if ctx.type == "video_generation":
            size = self.video_size(payload)
            fps = _checked(whole, payload, "fps", 24, 1, MAX_FPS)
            duration = _checked(duration_of, payload)
            codec = parse_codec(payload.get("codec", "h264"))
            count = _checked(
                whole,
                payload,
                "frames",
                min(MAX_FRAMES, max(1, math.ceil(duration))),
                1,
                MAX_FRAMES,
            )
            prompts = [f"{prompt} (frame {i} of {count})" for i in range(1, count + 1)]
            video, tokens = await self.video(
                keeper, prompts, [duration / count] * count, size, fps,
                payload.get("style"), codec,
            )  # fmt: skip
            return Output(
                {"prompt": prompt, "model": self.image_model(), "video": video}, tokens=tokens
            )
        size = self.image_size(payload)
        count = _checked(whole, payload, "n", 1, 1, MAX_IMAGES)
        made = await make_images(
            self.image_backend(),
            self.image_model() or "",
            [prompt] * count,
            size,
            self.sizes,
            _style(payload.get("style")),
        )
        images = await keeper.keep_images(made)
        return Output(
            {"prompt": prompt, "model": self.image_model(), "images": images}, tokens=made.tokens
        )


PLAN_SYSTEM = (
    'You are a creative director. Answer with one JSON object and nothing else: {"title": '
    '"...", "shots": [{"description": "...", "image_prompt": "...", "camera": "...", '
    '"duration_s": seconds}]}.'
)


class AdvancedMediaAgent(_ImageBackend):
    description = "A shot plan from a language model, checked, then images and video."
    image_model_key = "image_model"

    async def run(self, ctx: TaskContext) -> Output:
        payload, prompt = _checked(prompt_of, ctx.payload)
        media_type = payload.get("media_type", "image")
        if media_type not in ("image", "video"):
            raise _bad("media_type must be image or video")
        video = media_type == "video"
        codec = parse_codec(payload.get("codec", "h264")) if video else None
        size = self.video_size(payload) if video else self.image_size(payload)
        fps = _checked(whole, payload, "fps", 24, 1, MAX_FPS) if video else None
        duration = _checked(duration_of, payload) if video else None
        default = min(MAX_FRAMES, max(1, math.ceil((duration or 0) / 2.5))) if video else 1
        shots = _checked(whole, payload, "shots", default, 1, MAX_FRAMES if video else MAX_IMAGES)
        ask = (
            f"Plan {shots} shot(s) for a {media_type} at {size[0]}x{size[1]}: {prompt}. "
            f"Style: {payload.get('style', 'any')}."
        )
        if video:
            ask += f" The shots' duration_s must add up to {duration:g} seconds."
        replies: list[ChatReply] = []
        plan = json_object((await self.ask(ask, replies, PLAN_SYSTEM)).text)
        problems = check_plan(plan, shots, duration)
        if problems:
            retry = f"{ask} Your previous plan broke its schema: {'; '.join(problems)}."
            plan = json_object((await self.ask(retry, replies, PLAN_SYSTEM)).text)
            problems = check_plan(plan, shots, duration)
        tokens, cost = self.spent(replies)
        if problems or plan is None:
            raise TaskFailed(
                f"the model's shot plan broke its schema twice: {'; '.join(problems)}",
                kind="invalid_output",
                retryable=True,
                tokens=tokens,
                cost=cost,
            )
        value: dict[str, Any] = {
            "media_type": media_type,
            "codec": codec.name if codec else None,
            "resolution": f"{size[0]}x{size[1]}",
            "fps": fps,
            "duration": duration,
            "plan": plan,
            "attempts": len(replies),
            "model": replies[-1].model,
            "images": None,
            "video": None,
        }
        if self.image_model() is None:
            value["not_generated"] = (
                "no image_model in this agent's config: the plan was "
                "made, no images (set image_model to generate them)"
            )
            return Output(value, tokens=tokens, cost=cost)
        prompts = [s["image_prompt"] for s in plan["shots"]]
        image_tokens: int | None
        keeper = Keeper(ctx)
        if video and codec is not None:
            seconds = [float(s["duration_s"]) for s in plan["shots"]]
            value["video"], image_tokens = await self.video(
                keeper, prompts, seconds, size, fps or 24, payload.get("style"), codec
            )
        else:
            made = await make_images(
                self.image_backend(),
                self.image_model() or "",
                prompts,
                size,
                self.sizes,
                _style(payload.get("style")),
            )
            value["images"], image_tokens = await keeper.keep_images(made), made.tokens
        if image_tokens is not None:
            tokens = (tokens or 0) + image_tokens
        return Output(value, tokens=tokens, cost=cost)
