"""The program profiled into ``dedupe.prof`` (see README.md in this directory).

It removes duplicate e-mail addresses two ways: ``dedupe_quadratic`` checks each address
against a list (O(n²)), ``dedupe_with_set`` against a set (O(n)). ``normalise`` is cheap
but called once per address per strategy, so it shows up by call count, not by cost.
"""

from __future__ import annotations

import random


def make_addresses(count: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    users = [f"User{rng.randrange(count // 2)}" for _ in range(count)]
    return [f"  {user}@Example.COM " for user in users]


def normalise(address: str) -> str:
    return address.strip().lower()


def dedupe_quadratic(addresses: list[str]) -> list[str]:
    seen: list[str] = []
    for address in addresses:
        key = normalise(address)
        if key not in seen:
            seen.append(key)
    return seen


def dedupe_with_set(addresses: list[str]) -> list[str]:
    seen: set[str] = set()
    unique = []
    for address in addresses:
        key = normalise(address)
        if key not in seen:
            seen.add(key)
            unique.append(key)
    return unique


def main() -> None:
    addresses = make_addresses(12_000)
    slow = dedupe_quadratic(addresses)
    fast = dedupe_with_set(addresses)
    assert slow == fast
    print(f"{len(addresses)} addresses, {len(fast)} unique")


if __name__ == "__main__":
    main()
