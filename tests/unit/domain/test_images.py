"""Image bytes are named by their own magic numbers, not by a container they share."""

from __future__ import annotations

import pytest

from imperium.domain.images import sniff_mime


@pytest.mark.parametrize(
    ("data", "mime"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 8, "image/png"),
        (b"\xff\xd8\xff\xe0" + b"\0" * 8, "image/jpeg"),
        (b"RIFF\x24\0\0\0WEBPVP8 ", "image/webp"),
        (b"RIFF\x24\0\0\0WAVEfmt ", None),  # a WAV file is RIFF, not an image
        (b"RIFF\x24\0\0\0AVI LIST", None),
        (b"RIFF", None),
        (b"GIF89a", None),
    ],
)
def test_the_first_bytes_name_the_format(data: bytes, mime: str | None) -> None:
    assert sniff_mime(data) == mime
