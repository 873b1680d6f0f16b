"""Text of the knowledge base, as pure functions: normalisation, content hashes, MinHash
near-duplicates, BM25, and the scores that decide what is worth keeping.

Definitions (each measured, none invented):

- ``relevance(topic, doc)``: the IDF-weighted share of the topic's terms that the document
  contains, in [0, 1]. IDF comes from the stored corpus plus the batch being ingested, so
  a term every document has weighs little.
- ``novelty(doc)``: 1 - the highest estimated Jaccard similarity (MinHash of word
  3-shingles) between the document and any stored one; 1 for a first document.
- ``learning_value = relevance x novelty x source trust``.
"""

from __future__ import annotations

import hashlib
import html
import math
import random
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from html.parser import HTMLParser

SHINGLE_WORDS = 3
SIGNATURE_SIZE = 64
NEAR_DUPLICATE = 0.8
"""Estimated Jaccard similarity from which two documents count as the same."""
_PRIME = (1 << 61) - 1
_SEEDS = random.Random(20261207)  # fixed: signatures must compare across processes
_PERMUTATIONS = tuple(
    (_SEEDS.randrange(1, _PRIME), _SEEDS.randrange(0, _PRIME)) for _ in range(SIGNATURE_SIZE)
)
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_SPACE = re.compile(r"\s+")
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "has",
        "have",
        "how",
        "i",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "that",
        "the",
        "this",
        "to",
        "was",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "you",
        "your",
        "do",
        "does",
        "can",
        "not",
        "no",
    ]
)


class _TextOnly(HTMLParser):
    _SKIP = frozenset({"script", "style", "head"})
    _BREAKS = frozenset({"p", "br", "div", "li", "pre", "h1", "h2", "h3", "h4", "tr"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BREAKS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and self._skipping:
            self._skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def normalise_text(raw: str) -> str:
    """Plain text: tags and scripts dropped, entities decoded, Unicode NFKC, one space
    between words."""
    if "<" in raw:
        parser = _TextOnly()
        parser.feed(raw)
        parser.close()
        raw = " ".join(parser.parts)
    text = unicodedata.normalize("NFKC", html.unescape(raw))
    return _SPACE.sub(" ", text).strip()


def words(text: str) -> list[str]:
    """Lower-case words, stop words kept (shingles need word order)."""
    return [w.lower() for w in _WORD.findall(text)]


def terms(text: str) -> list[str]:
    """Words used for search and relevance: lower case, without stop words."""
    return [w for w in words(text) if w not in STOPWORDS]


def content_hash(text: str) -> str:
    """SHA-256 of the text's words: equal for texts that differ only in case, spacing or
    punctuation (markup is gone once normalised)."""
    return hashlib.sha256(" ".join(words(text)).encode()).hexdigest()


def _shingle_hashes(text: str) -> set[int]:
    tokens = words(text)
    if len(tokens) < SHINGLE_WORDS:
        tokens = tokens or [""]
        grams = [" ".join(tokens)]
    else:
        grams = [" ".join(tokens[i : i + SHINGLE_WORDS]) for i in range(len(tokens) - 2)]
    return {int.from_bytes(hashlib.blake2b(g.encode(), digest_size=8).digest()) for g in grams}


def signature(text: str) -> tuple[int, ...]:
    """MinHash signature of the text's word 3-shingles."""
    hashes = _shingle_hashes(text)
    return tuple(min((a * h + b) % _PRIME for h in hashes) for a, b in _PERMUTATIONS)


def similarity(first: Sequence[int], second: Sequence[int]) -> float:
    """Estimated Jaccard similarity of two signatures (share of equal minima)."""
    if not first or len(first) != len(second):
        return 0.0
    return sum(a == b for a, b in zip(first, second, strict=True)) / len(first)


def novelty(sig: Sequence[int], stored: Iterable[Sequence[int]]) -> float:
    """1 - the highest similarity to a stored signature (1 when nothing is stored)."""
    return 1.0 - max((similarity(sig, other) for other in stored), default=0.0)


def idf(document_frequency: int, documents: int) -> float:
    """BM25's IDF (never negative)."""
    return math.log(1.0 + (documents - document_frequency + 0.5) / (document_frequency + 0.5))


def relevance(topic: str, doc_terms: Iterable[str], df: Mapping[str, int], documents: int) -> float:
    """The IDF-weighted share of ``topic``'s terms found in the document, in [0, 1]."""
    wanted = set(terms(topic))
    if not wanted:
        return 0.0
    present = set(doc_terms)
    weights = {t: idf(df.get(t, 0), max(documents, 1)) for t in wanted}
    total = sum(weights.values())
    if total <= 0:
        return len(wanted & present) / len(wanted)
    return sum(w for t, w in weights.items() if t in present) / total


def learning_value(relevance_score: float, novelty_score: float, trust: float) -> float:
    return max(0.0, min(1.0, relevance_score * novelty_score * trust))


def bm25_scores(
    query: str, documents: Sequence[Sequence[str]], k1: float = 1.2, b: float = 0.75
) -> list[float]:
    """Okapi BM25 of ``query`` against each tokenised document (0 when no term matches)."""
    wanted = list(dict.fromkeys(terms(query)))
    n = len(documents)
    if not wanted or n == 0:
        return [0.0] * n
    average = sum(len(d) for d in documents) / n or 1.0
    df = Counter(t for d in documents for t in set(d) if t in wanted)
    scores = []
    for doc in documents:
        counts = Counter(doc)
        norm = k1 * (1 - b + b * len(doc) / average)
        scores.append(
            sum(
                idf(df[t], n) * counts[t] * (k1 + 1) / (counts[t] + norm)
                for t in wanted
                if counts[t]
            )
        )
    return scores


def snippet(text: str, query: str, width: int = 300) -> str:
    """Up to ``width`` characters of ``text`` around the first query term found."""
    lowered = text.lower()
    positions = [lowered.find(t) for t in terms(query)]
    found = [p for p in positions if p >= 0]
    start = max(0, min(found) - width // 4) if found else 0
    piece = text[start : start + width]
    return ("..." if start else "") + piece + ("..." if start + width < len(text) else "")
