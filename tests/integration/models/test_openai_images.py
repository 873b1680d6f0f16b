"""The OpenAI-compatible images adapter against the local OpenAI-schema server: images as
bytes of the asked size, URLs passed on, refusals with the provider's reason."""

from __future__ import annotations

import struct

import pytest

from imperium.adapters.models.openai_images import OpenAIImages
from imperium.domain.errors import ValidationError
from imperium.domain.images import ImageRequest, parse_size
from imperium.domain.llm import ModelCallError
from tests.support.openai_server import OpenAIServer, Scripted, error_body

KEY = "sk-served"


async def no_wait(seconds: float) -> None:
    return None


def png_size(data: bytes) -> tuple[int, int]:
    width, height = struct.unpack(">II", data[16:24])
    return width, height


async def test_images_come_back_as_pngs_of_the_asked_size(server: OpenAIServer) -> None:
    model = OpenAIImages(server.base_url, KEY, sleep=no_wait)
    result = await model.generate(ImageRequest("img-model", "a futuristic city", "512x512", n=2))
    await model.close()
    assert len(result.images) == 2
    image = result.images[0]
    assert image.mime == "image/png"
    assert image.data is not None
    assert png_size(image.data) == (512, 512)
    assert image.revised_prompt == "a futuristic city, detailed"
    assert server.requests[0].body == {
        "model": "img-model",
        "prompt": "a futuristic city",
        "n": 2,
        "size": "512x512",
        "response_format": "b64_json",
    }


async def test_a_url_answer_is_passed_on_not_fetched(server: OpenAIServer) -> None:
    model = OpenAIImages(server.base_url, KEY, response_format="url", sleep=no_wait)
    [image] = (await model.generate(ImageRequest("m", "clouds"))).images
    assert (image.data, image.url) == (None, "https://images.example/generated/1.png")


async def test_a_size_the_backend_does_not_make_is_its_refusal(server: OpenAIServer) -> None:
    model = OpenAIImages(server.base_url, KEY, sleep=no_wait)
    with pytest.raises(ModelCallError) as caught:
        await model.generate(ImageRequest("m", "clouds", "7680x4320"))
    assert caught.value.kind == "provider_error"
    assert "'7680x4320' is not one of" in str(caught.value)


async def test_429_is_retried_after_retry_after(server: OpenAIServer) -> None:
    waited: list[float] = []

    async def sleep(seconds: float) -> None:
        waited.append(seconds)

    server.script(Scripted(429, error_body("Rate limit", "requests"), {"Retry-After": "4"}))
    result = await OpenAIImages(server.base_url, KEY, sleep=sleep).generate(
        ImageRequest("m", "clouds", "256x256")
    )
    assert waited == [4.0]
    assert result.images[0].data is not None


def test_sizes_are_parsed_or_refused() -> None:
    assert parse_size("1792x1024") == (1792, 1024)
    with pytest.raises(ValidationError, match="WIDTHxHEIGHT"):
        parse_size("8K")
