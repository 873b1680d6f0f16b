"""Image generation as values: a request, the images that came back, and what the
provider said about their size. Pure; the port is :class:`imperium.ports.ImageModel`."""

from __future__ import annotations

import re
from dataclasses import dataclass

from imperium.domain.errors import ValidationError

_SIZE = re.compile(r"^(\d{2,5})x(\d{2,5})$")
_MAGIC = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"))  # fmt: skip


@dataclass(frozen=True, slots=True)
class ImageRequest:
    model: str
    prompt: str
    size: str = "1024x1024"
    n: int = 1
    quality: str | None = None
    style: str | None = None


@dataclass(frozen=True, slots=True)
class GeneratedImage:
    """One image: its bytes (``b64_json`` answers) or the provider's URL (``url``)."""

    data: bytes | None
    url: str | None
    mime: str | None
    revised_prompt: str | None = None


@dataclass(frozen=True, slots=True)
class ImageResult:
    images: tuple[GeneratedImage, ...]
    model: str
    size: str
    input_tokens: int | None = None
    output_tokens: int | None = None


def parse_size(size: str) -> tuple[int, int]:
    """``"1024x768"`` as (width, height); anything else is refused."""
    found = _SIZE.match(size)
    if found is None:
        raise ValidationError(f"size must be WIDTHxHEIGHT in pixels, e.g. 1024x1024; got {size!r}")
    return int(found.group(1)), int(found.group(2))


def sniff_mime(data: bytes) -> str | None:
    """The image format its first bytes announce (PNG, JPEG, WebP), or None. A RIFF
    container is WebP only when its form type says so (WAV and AVI are RIFF too)."""
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "image/webp"
    return next((mime for magic, mime in _MAGIC if data.startswith(magic)), None)
