"""Ranking quality of the knowledge base's search on the shipped labelled set
(bench/data/knowledge_set.json: 30 documents, 20 queries with graded relevance): mean
nDCG@10 and MRR per ranker, one JSON line each.

    python bench/knowledge_ranking.py                       # SQLite FTS5 bm25(), in-memory BM25
    python bench/knowledge_ranking.py --database postgresql+asyncpg://postgres@127.0.0.1/kb
                                                            # also PostgreSQL ts_rank_cd (an empty
                                                            # database: it is migrated first)

With the embeddings extra and the model's weights installed (see
src/imperium/adapters/knowledge/embeddings.py), also embedding-only and hybrid (keyword
candidates re-ranked by reciprocal rank fusion with the embeddings).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from imperium.adapters.knowledge.embeddings import EmbeddingsUnavailableError, load_embedder
from imperium.adapters.storage.database import Database
from imperium.adapters.storage.knowledge import SqlKnowledgeStore
from imperium.adapters.storage.memory.knowledge import MemoryKnowledgeStore
from imperium.adapters.storage.migrate import upgrade_database
from imperium.services.knowledge.evaluation import Quality, documents_of, evaluate, label_of
from imperium.services.knowledge.ingest import Ingester
from imperium.services.knowledge.ports import Embedder, KnowledgeStore
from imperium.services.knowledge.service import KnowledgeService

SET = Path(__file__).resolve().parent / "data" / "knowledge_set.json"


class Clock:
    def now(self) -> float:
        return 0.0

    def monotonic(self) -> float:
        return 0.0


async def keyword(store: KnowledgeStore, labelled: dict[str, Any], name: str) -> Quality:
    async def rank(query: str, k: int) -> Sequence[str]:
        return [label_of(doc.url) for doc, _ in await store.search(query, k)]

    return await evaluate(name, rank, labelled)


async def semantic(embedder: Embedder, labelled: dict[str, Any]) -> Quality:
    docs = documents_of(labelled)
    vectors = embedder.embed([f"{d.title}. {d.text}" for d in docs])

    async def rank(query: str, k: int) -> Sequence[str]:
        [q] = embedder.embed([query])
        scores = [sum(a * b for a, b in zip(q, v, strict=True)) for v in vectors]
        order = sorted(range(len(docs)), key=lambda i: -scores[i])
        return [label_of(docs[i].url) for i in order[:k]]

    return await evaluate("embedding-only (all-MiniLM-L6-v2)", rank, labelled)


async def hybrid(store: KnowledgeStore, embedder: Embedder, labelled: dict[str, Any]) -> Quality:
    service = KnowledgeService(store, Ingester(store, {}, Clock()), Clock(), embedder)

    async def rank(query: str, k: int) -> Sequence[str]:
        return [label_of(hit.url) for hit in await service.search(query, k)]

    return await evaluate("hybrid (FTS5 candidates + embeddings, RRF)", rank, labelled)


async def filled(store: KnowledgeStore, labelled: dict[str, Any]) -> KnowledgeStore:
    for doc in documents_of(labelled):
        await store.insert_document(doc)
    return store


async def main(args: argparse.Namespace) -> list[Quality]:
    labelled = json.loads(SET.read_text())
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/kb.db"
        await upgrade_database(url)
        db = await Database.connect(url)
        sqlite = await filled(SqlKnowledgeStore(db), labelled)
        results.append(await keyword(sqlite, labelled, "keyword: SQLite FTS5 bm25()"))
        memory = await filled(MemoryKnowledgeStore(), labelled)
        results.append(await keyword(memory, labelled, "keyword: BM25 (in memory)"))
        if args.database:
            await upgrade_database(args.database)
            pg = await Database.connect(args.database)
            store = await filled(SqlKnowledgeStore(pg), labelled)
            results.append(await keyword(store, labelled, "keyword: PostgreSQL ts_rank_cd"))
            await pg.close()
        try:
            embedder = load_embedder(args.model_dir)
        except EmbeddingsUnavailableError as exc:
            print(json.dumps({"embeddings": "not measured", "why": str(exc)}))
        else:
            results.append(await semantic(embedder, labelled))
            results.append(await hybrid(sqlite, embedder, labelled))
        await db.close()
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", help="also measure on this (empty) PostgreSQL database")
    parser.add_argument("--model-dir", help="the embedding model's directory")
    for quality in asyncio.run(main(parser.parse_args())):
        print(json.dumps(quality.as_dict()))
