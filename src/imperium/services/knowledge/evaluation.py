"""Ranking quality on a labelled set: each ranker's mean nDCG@10 and MRR over the set's
queries (``bench/knowledge_ranking.py`` prints them; the README quotes them).

A labelled set is JSON: ``documents`` (id, title, text) and ``queries`` (query, and
``relevant``: document id -> graded gain, 2 answers it, 1 is related)."""

from __future__ import annotations

import statistics
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from imperium.domain.knowledge import Document
from imperium.domain.knowledge_text import content_hash, normalise_text, signature
from imperium.domain.retrieval import ndcg_at, reciprocal_rank

Ranker = Callable[[str, int], Awaitable[Sequence[str]]]
"""(query, k) -> document ids of the labelled set, best first."""
URL_PREFIX = "labelled://"


@dataclass(frozen=True, slots=True)
class Quality:
    ranker: str
    queries: int
    ndcg_at_10: float
    mrr: float
    misses: int
    """Queries with no relevant document in the top 10."""

    def as_dict(self) -> dict[str, Any]:
        return {"ranker": self.ranker, "queries": self.queries,
                "ndcg@10": round(self.ndcg_at_10, 3), "mrr": round(self.mrr, 3),
                "misses": self.misses}  # fmt: skip


def documents_of(labelled: Mapping[str, Any], fetched_at: float = 0.0) -> list[Document]:
    """The set's documents as stored documents (URL ``labelled://<id>``)."""
    docs = []
    for raw in labelled["documents"]:
        text = normalise_text(raw["text"])
        docs.append(Document(
            url=URL_PREFIX + raw["id"], source_id="labelled", title=raw["title"], text=text,
            content_hash=content_hash(f"{raw['title']} {text}"),
            signature=signature(f"{raw['title']} {text}"), fetched_at=fetched_at,
        ))  # fmt: skip
    return docs


def label_of(url: str) -> str:
    return url.removeprefix(URL_PREFIX)


async def evaluate(name: str, ranker: Ranker, labelled: Mapping[str, Any], k: int = 10) -> Quality:
    ndcgs, rrs, misses = [], [], 0
    for case in labelled["queries"]:
        relevant = {doc: float(gain) for doc, gain in case["relevant"].items()}
        ranked = list(await ranker(case["query"], k))
        ndcgs.append(ndcg_at(ranked, relevant, k))
        rrs.append(reciprocal_rank(ranked, relevant))
        misses += not set(ranked[:k]) & set(relevant)
    n = len(ndcgs)
    return Quality(name, n, statistics.fmean(ndcgs) if n else 0.0,
                   statistics.fmean(rrs) if n else 0.0, misses)  # fmt: skip
