"""Ranking quality and fusion, as pure functions: nDCG@k, reciprocal rank, and reciprocal
rank fusion (hybrid keyword + embedding search)."""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence


def ndcg_at(ranked: Sequence[str], relevant: Mapping[str, float], k: int = 10) -> float:
    """Normalised discounted cumulative gain of the first ``k`` of ``ranked``, with graded
    relevance (``relevant`` maps an id to its gain; absent ids gain 0)."""
    gains = [relevant.get(doc, 0.0) for doc in ranked[:k]]
    dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains))
    ideal = sorted(relevant.values(), reverse=True)[:k]
    best = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / best if best > 0 else 0.0


def reciprocal_rank(ranked: Sequence[str], relevant: Collection[str]) -> float:
    """1 / the rank of the first relevant id (0 when none is ranked)."""
    for position, doc in enumerate(ranked, start=1):
        if doc in relevant:
            return 1.0 / position
    return 0.0


def reciprocal_rank_fusion(rankings: Sequence[Sequence[str]], k: int = 60) -> list[str]:
    """Ids ordered by the sum of 1 / (k + rank) over the rankings (Cormack et al. 2009);
    ties keep the order of first appearance."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, doc in enumerate(ranking, start=1):
            scores[doc] = scores.get(doc, 0.0) + 1.0 / (k + rank)
    return sorted(scores, key=lambda doc: -scores[doc])
