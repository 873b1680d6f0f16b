"""The program profiled into ``checksum.prof`` (see README.md in this directory).

``rolling_checksum`` calls the tiny ``mix`` once per byte: each call is cheap, the
count is what costs. ``crc_checksum`` hands the whole buffer to ``zlib.crc32`` at once.
"""

from __future__ import annotations

import zlib


def mix(total: int, byte: int) -> int:
    return (total * 31 + byte) & 0xFFFFFFFF


def rolling_checksum(data: bytes) -> int:
    total = 0
    for byte in data:
        total = mix(total, byte)
    return total


def crc_checksum(data: bytes) -> int:
    return zlib.crc32(data)


def main() -> None:
    data = bytes(range(256)) * 1200
    print(rolling_checksum(data), crc_checksum(data))


if __name__ == "__main__":
    main()
