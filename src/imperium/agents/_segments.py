"""Audience segments: k-means on customer records' numeric fields.

The fields used are those holding a finite number (not a boolean) in every record, or
the ones the caller names; a field with the same value in every record is dropped. The
fields are standardised (mean 0, deviation 1) so that none weighs more for its unit; k
is chosen from ``K_RANGE`` by the silhouette score (on at most ``SILHOUETTE_SAMPLE``
records, a fixed sample); each segment is reported with its size and its centroid in the
fields' own units (the mean of its members). Seeded, so the same records give the same
segments. Needs scikit-learn and numpy (the ``learning`` extra). A pure function; the
caller runs it in a thread.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from imperium.extras import require

K_RANGE = (2, 6)
MIN_RECORDS = 10
SILHOUETTE_SAMPLE = 2000
SEED = 0


@dataclass(frozen=True, slots=True)
class Segments:
    value: dict[str, Any] | None
    reason: str


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def numeric_fields(records: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[str]]:
    """The fields numeric in every record, and the other fields seen (ignored)."""
    seen: dict[str, None] = {}
    for record in records:
        seen.update(dict.fromkeys(record))
    usable = [f for f in seen if all(is_number(r.get(f)) for r in records)]
    return usable, [f for f in seen if f not in usable]


def segment(records: Sequence[Mapping[str, Any]], fields: Sequence[str]) -> Segments:
    """Segments of ``records`` on ``fields`` (numeric in every record), or None and why."""
    if len(records) < MIN_RECORDS:
        return Segments(None, f"insufficient data (n={len(records)} records, need {MIN_RECORDS})")
    np = require("numpy", "audience segments")
    cluster = require("sklearn.cluster", "audience segments")
    metrics = require("sklearn.metrics", "audience segments")
    raw = np.array([[float(r[f]) for f in fields] for r in records])
    spread = raw.std(axis=0)
    kept = [i for i, s in enumerate(spread) if s > 0]
    if not kept:
        return Segments(None, "every numeric field has the same value in every record")
    raw, names = raw[:, kept], [fields[i] for i in kept]
    scaled = (raw - raw.mean(axis=0)) / raw.std(axis=0)
    distinct = len(np.unique(scaled, axis=0))
    top = min(K_RANGE[1], distinct - 1)
    if top < K_RANGE[0]:
        return Segments(None, f"insufficient data ({distinct} distinct records, need 3)")
    tried: dict[int, tuple[float, Any]] = {}
    for k in range(K_RANGE[0], top + 1):
        labels = cluster.KMeans(n_clusters=k, n_init=10, random_state=SEED).fit_predict(scaled)
        sample = min(len(scaled), SILHOUETTE_SAMPLE)
        score = metrics.silhouette_score(scaled, labels, random_state=SEED, sample_size=sample)
        tried[k] = (float(score), labels)
    best = max(tried, key=lambda k: tried[k][0])
    labels = tried[best][1]
    groups: list[dict[str, Any]] = []
    for label in range(best):
        members = raw[labels == label]
        centroid = {n: round(float(v), 6) for n, v in zip(names, members.mean(axis=0), strict=True)}
        groups.append({"size": len(members), "share": round(len(members) / len(raw), 6),
                       "centroid": centroid})  # fmt: skip
    groups.sort(key=lambda g: (-g["size"], sorted(g["centroid"].items())))
    for number, group in enumerate(groups, 1):
        group["segment"] = number
    dropped = [f for f in fields if f not in names]
    value = {
        "k": best, "method": "k-means on standardised fields, k by silhouette",
        "fields": names, "constant_fields_dropped": dropped, "records": len(raw),
        "silhouette": {str(k): round(s, 6) for k, (s, _) in tried.items()},
        "segments": groups,
    }  # fmt: skip
    return Segments(value, f"k={best}: the best silhouette of k in {K_RANGE[0]}..{top}")
