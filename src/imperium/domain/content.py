"""Measured properties of generated text, computed in code (never asked of the model):
length, readability, the density of requested keywords, and the limits of each content
type. Pure functions.

Readability is the Flesch reading ease, 206.835 - 1.015 (words/sentences) - 84.6
(syllables/words), with syllables counted by a vowel-group heuristic (silent final "e"
dropped, at least one per word); for English text it agrees with dictionary counts to
within a few points on typical copy. Higher is easier (60-70: plain English).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_WORD = re.compile("[A-Za-z0-9]+(?:['\u2019-][A-Za-z0-9]+)*")
_SENTENCE_END = re.compile(r"[.!?]+(?:\s|$)")
_VOWELS = re.compile(r"[aeiouy]+")

CONTENT_TYPES = ("description", "catalogue_entry", "meta_description")


@dataclass(frozen=True, slots=True)
class Limit:
    name: str
    ok: bool
    detail: str


def words(text: str) -> list[str]:
    return _WORD.findall(text)


def syllables(word: str) -> int:
    w = word.lower()
    if w.endswith("e") and not w.endswith(("le", "ee")) and len(w) > 2:
        w = w[:-1]
    return max(1, len(_VOWELS.findall(w)))


def sentences(text: str) -> int:
    return max(1, len(_SENTENCE_END.findall(text.strip())) or 1)


def flesch_reading_ease(text: str) -> float | None:
    """None for text without words (there is nothing to read)."""
    found = words(text)
    if not found:
        return None
    syll = sum(syllables(w) for w in found)
    score = 206.835 - 1.015 * (len(found) / sentences(text)) - 84.6 * (syll / len(found))
    return round(score, 1)


def keyword_density(text: str, keywords: list[str]) -> dict[str, float]:
    """Per keyword (a word or phrase), the share of the text's words its occurrences take,
    in percent (case-insensitive, whole words)."""
    found = [w.lower() for w in words(text)]
    total = len(found)
    density: dict[str, float] = {}
    for keyword in keywords:
        parts = [w.lower() for w in words(keyword)]
        if not parts or not total:
            density[keyword] = 0.0
            continue
        n = len(parts)
        hits = sum(1 for i in range(total - n + 1) if found[i : i + n] == parts)
        density[keyword] = round(100.0 * hits * n / total, 2)
    return density


def limits(content_type: str, text: str, keywords: list[str]) -> list[Limit]:
    """The limits this content type's text must meet, each checked."""
    count, chars = len(words(text)), len(text)
    checks: list[Limit] = []
    if content_type == "meta_description":
        checks.append(Limit("max_160_characters", chars <= 160, f"{chars} characters"))
    elif content_type == "catalogue_entry":
        checks.append(Limit("max_80_words", count <= 80, f"{count} words"))
    else:
        checks.append(Limit("50_to_300_words", 50 <= count <= 300, f"{count} words"))
    density = keyword_density(text, keywords)
    for keyword, share in density.items():
        checks.append(Limit(f"mentions '{keyword}'", share > 0, f"{share}% of words"))
    return checks


def measure(content_type: str, text: str, keywords: list[str]) -> dict[str, object]:
    checked = limits(content_type, text, keywords)
    return {
        "characters": len(text),
        "words": len(words(text)),
        "sentences": sentences(text),
        "flesch_reading_ease": flesch_reading_ease(text),
        "keyword_density_percent": keyword_density(text, keywords),
        "limits": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in checked],
        "limits_met": all(c.ok for c in checked),
    }
