"""The shipped labelled set (bench/data/knowledge_set.json) through the database's own
full-text search on SQLite: the quality the README quotes, as a floor a broken search
would fall through (bench/knowledge_ranking.py prints every ranker's figures)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

from imperium.adapters.storage.knowledge import SqlKnowledgeStore
from imperium.adapters.storage.sql import SqlStore
from imperium.services.knowledge.evaluation import documents_of, evaluate, label_of

SET = Path(__file__).resolve().parents[3] / "bench" / "data" / "knowledge_set.json"


async def test_keyword_ranking_on_the_labelled_set(
    make_migrated_database_url: Callable[[str], str],
) -> None:
    labelled = json.loads(SET.read_text())
    store = await SqlStore.connect(make_migrated_database_url("sqlite"))
    try:
        kb = SqlKnowledgeStore(store.database)
        for doc in documents_of(labelled):
            await kb.insert_document(doc)

        async def rank(query: str, k: int) -> Sequence[str]:
            return [label_of(d.url) for d, _ in await kb.search(query, k)]

        quality = await evaluate("fts5", rank, labelled)
    finally:
        await store.close()
    assert quality.queries == 20
    assert quality.misses == 0
    assert quality.ndcg_at_10 >= 0.9
    assert quality.mrr >= 0.9
