"""``OpenAIImages``: the ``ImageModel`` port over the OpenAI-compatible images API
(``POST {base_url}/images/generations``). Images come back as bytes (``b64_json``,
asked for unless ``response_format=None``, e.g. for models that always answer with it) or
as the provider's URL, which is passed on, not fetched. Refusals and retries as for chat
(``_http.py``). The returned size is the one asked for: nothing here upscales."""

from __future__ import annotations

import asyncio
import base64
import binascii
from typing import Any

import httpx

from imperium.adapters.models._http import Sleep, make_client, post_json
from imperium.domain.images import GeneratedImage, ImageRequest, ImageResult, sniff_mime
from imperium.domain.llm import ModelCallError


class OpenAIImages:
    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        timeout: float = 120.0,
        max_retries: int = 3,
        max_retry_wait: float = 30.0,
        response_format: str | None = "b64_json",
        sleep: Sleep = asyncio.sleep,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._client = client or make_client(base_url, api_key, timeout)
        self._retries = (max_retries, max_retry_wait)
        self._response_format = response_format
        self._sleep = sleep

    async def generate(self, request: ImageRequest) -> ImageResult:
        body: dict[str, Any] = {"model": request.model, "prompt": request.prompt,
                                "n": request.n, "size": request.size}  # fmt: skip
        for name in ("quality", "style"):
            if getattr(request, name) is not None:
                body[name] = getattr(request, name)
        if self._response_format is not None:
            body["response_format"] = self._response_format
        data = await post_json(
            self._client, "images/generations", body,
            max_retries=self._retries[0], max_retry_wait=self._retries[1], sleep=self._sleep,
        )  # fmt: skip
        return parse_images(data, request)

    async def close(self) -> None:
        await self._client.aclose()


def parse_images(data: dict[str, Any], request: ImageRequest) -> ImageResult:
    items = data.get("data")
    if not isinstance(items, list) or not items:
        raise ModelCallError("bad_response", "the answer has no images", retryable=False)
    images = tuple(_image(item) for item in items)
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else None
    return ImageResult(
        images, request.model, request.size,
        input_tokens=usage.get("input_tokens") if usage else None,
        output_tokens=usage.get("output_tokens") if usage else None,
    )  # fmt: skip


def _image(item: object) -> GeneratedImage:
    if not isinstance(item, dict):
        raise ModelCallError("bad_response", "an image entry is not an object", retryable=False)
    revised = item.get("revised_prompt")
    if isinstance(item.get("b64_json"), str):
        try:
            raw = base64.b64decode(item["b64_json"], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ModelCallError("bad_response", f"b64_json is not base64: {exc}",
                                 retryable=False) from exc  # fmt: skip
        return GeneratedImage(raw, None, sniff_mime(raw), revised)
    if isinstance(item.get("url"), str):
        return GeneratedImage(None, item["url"], None, revised)
    raise ModelCallError("bad_response", "an image entry has neither b64_json nor url",
                         retryable=False)  # fmt: skip
