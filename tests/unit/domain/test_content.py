"""Measured properties of generated copy: readability, keyword density, limits."""

from __future__ import annotations

import pytest

from imperium.domain.content import (
    flesch_reading_ease,
    keyword_density,
    limits,
    measure,
    syllables,
)


@pytest.mark.parametrize(
    ("word", "count"),
    [("cat", 1), ("water", 2), ("monitoring", 4), ("resistant", 3), ("make", 1), ("table", 2)],
)
def test_syllables(word: str, count: int) -> None:
    assert syllables(word) == count


def test_short_plain_sentences_read_easier_than_long_latinate_ones() -> None:
    plain = "The cat sat on the mat. It was warm. The dog ran."
    dense = ("Comprehensive physiological monitoring capabilities facilitate "
             "individualised optimisation of cardiovascular performance.")  # fmt: skip
    easy, hard = flesch_reading_ease(plain), flesch_reading_ease(dense)
    assert easy is not None
    assert hard is not None
    assert easy > 90 > 0 > hard
    assert flesch_reading_ease("") is None


def test_keyword_density_counts_whole_words_and_phrases() -> None:
    text = "Smart watch with GPS. The smart watch tracks GPS routes; smartwatch fans agree."
    assert keyword_density(text, ["smart watch", "GPS", "heart"]) == {
        "smart watch": round(100 * 4 / 13, 2),
        "GPS": round(100 * 2 / 13, 2),
        "heart": 0.0,
    }


def test_limits_per_content_type() -> None:
    [meta] = limits("meta_description", "x" * 161, [])
    assert (meta.name, meta.ok, meta.detail) == ("max_160_characters", False, "161 characters")
    checked = measure("catalogue_entry", "A light watch with GPS.", ["GPS", "heart rate"])
    assert checked["limits_met"] is False
    assert [(c["name"], c["ok"]) for c in checked["limits"]] == [  # type: ignore[attr-defined]
        ("max_80_words", True),
        ("mentions 'GPS'", True),
        ("mentions 'heart rate'", False),
    ]
