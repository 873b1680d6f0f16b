"""Splits a sequence into chunks of a given size."""

from collections.abc import Iterator, Sequence


def chunks(items: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    if size < 1:
        raise ValueError("size must be at least 1")
    for start in range(0, len(items), size):
        yield items[start : start + size]
