"""Which artefacts a retention limit removes, and which ids reach a path."""

from __future__ import annotations

import pytest

from imperium.domain.artefacts import (
    RECORD_KEEP_SECONDS,
    Artefact,
    ArtefactTooLargeError,
    RetentionPolicy,
    check_fits,
    check_id,
    forgotten,
    to_remove,
)
from imperium.domain.errors import ValidationError

DAY = 86400.0


def made(n: int, at: float, size: int, removed_at: float | None = None) -> Artefact:
    return Artefact(f"{n:032x}", "video/mp4", size, "0" * 64, at, removed_at=removed_at)


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (RetentionPolicy(), []),
        (RetentionPolicy(max_age_seconds=2 * DAY), [(1, "max_age")]),
        (RetentionPolicy(max_total_bytes=600), [(1, "max_total_bytes")]),
        (RetentionPolicy(max_total_bytes=100), [(1, "max_total_bytes"), (2, "max_total_bytes")]),
        # the age limit first, then the oldest of the rest until they fit
        (RetentionPolicy(2 * DAY, 100), [(1, "max_age"), (2, "max_total_bytes")]),
        (RetentionPolicy(max_total_bytes=700), []),
    ],
)
def test_what_a_policy_removes(policy: RetentionPolicy, expected: list[tuple[int, str]]) -> None:
    now = 10 * DAY
    artefacts = [made(3, now - 60, 100), made(1, now - 3 * DAY, 400), made(2, now - DAY, 200),
                 made(4, now - 9 * DAY, 999, removed_at=now - 8 * DAY)]  # fmt: skip
    removals = to_remove(artefacts, now, policy)
    assert [(int(r.artefact.id, 16), r.reason) for r in removals] == expected


def test_records_of_removed_artefacts_are_forgotten_after_a_while() -> None:
    now = 100 * DAY
    recent = made(1, 0, 1, removed_at=now - RECORD_KEEP_SECONDS + 1)
    old = made(2, 0, 1, removed_at=now - RECORD_KEEP_SECONDS - 1)
    assert forgotten([recent, old, made(3, 0, 1)], now) == [old]


@pytest.mark.parametrize(
    "bad", ["../../etc/passwd", "", "A" * 32, "a" * 31, "a" * 33, "0" * 31 + "/", "%2e%2e"]
)
def test_only_32_lowercase_hex_digits_are_ids(bad: str) -> None:
    with pytest.raises(ValidationError, match="not an artefact id"):
        check_id(bad)
    assert check_id("0123456789abcdef" * 2) == "0123456789abcdef" * 2


def test_a_file_over_the_whole_limit_is_refused_saying_what_to_do() -> None:
    check_fits(10, RetentionPolicy(max_total_bytes=10))
    check_fits(10**12, RetentionPolicy())
    with pytest.raises(ArtefactTooLargeError, match="IMPERIUM_ARTEFACT_MAX_BYTES"):
        check_fits(11, RetentionPolicy(max_total_bytes=10))


def test_a_reference_names_the_download_url() -> None:
    artefact = made(7, 1.0, 5)
    assert artefact.reference() == {
        "artefact_id": artefact.id, "content_type": "video/mp4", "bytes": 5,
        "sha256": "0" * 64, "url": f"/api/v1/artefacts/{artefact.id}",
    }  # fmt: skip
    assert Artefact.from_dict(artefact.as_dict()) == artefact
