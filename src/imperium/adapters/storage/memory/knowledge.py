"""``MemoryKnowledgeStore``: the knowledge base in memory (unit tests, ``MemoryStore``
runtimes). Search ranks with BM25 (title counted twice) over the stored documents;
attempts' outcomes come from the ``MemoryState`` it is given (none: no outcomes)."""

from __future__ import annotations

import dataclasses
from collections import defaultdict

from imperium.adapters.storage.memory._state import MemoryState
from imperium.domain.knowledge import (
    Document,
    IngestRecord,
    KnowledgeUse,
    Source,
    SourceState,
    Topic,
)
from imperium.domain.knowledge_text import bm25_scores, terms
from imperium.domain.states import Outcome
from imperium.services.knowledge.ports import UsageOutcome


class MemoryKnowledgeStore:
    def __init__(self, state: MemoryState | None = None) -> None:
        self._state = state
        self.sources: dict[str, Source] = {}
        self.states: dict[str, SourceState] = {}
        self.topics: dict[tuple[str, str | None], Topic] = {}
        self.documents: dict[int, Document] = {}
        self.ingests: list[IngestRecord] = []
        self.uses: list[KnowledgeUse] = []

    async def save_source(self, source: Source) -> None:
        self.sources[source.id] = source

    async def get_source(self, source_id: str) -> Source | None:
        return self.sources.get(source_id)

    async def list_sources(self) -> list[Source]:
        return sorted(self.sources.values(), key=lambda s: s.id)

    async def delete_source(self, source_id: str) -> bool:
        self.states.pop(source_id, None)
        return self.sources.pop(source_id, None) is not None

    async def get_state(self, source_id: str) -> SourceState | None:
        if source_id not in self.sources:
            return None
        return self.states.get(source_id, SourceState(source_id))

    async def save_state(self, state: SourceState) -> None:
        if state.source_id in self.sources:
            self.states[state.source_id] = state

    async def add_topic(self, topic: Topic) -> bool:
        key = (topic.name, topic.agent_id)
        if key in self.topics:
            return False
        self.topics[key] = topic
        return True

    async def list_topics(self) -> list[Topic]:
        return sorted(self.topics.values(), key=lambda t: (t.agent_id or "", t.name))

    async def remove_topic(self, name: str, agent_id: str | None) -> bool:
        return self.topics.pop((name, agent_id), None) is not None

    async def find_document(self, url: str, content_hash: str) -> Document | None:
        ordered = sorted(self.documents.values(), key=lambda d: d.id or 0)
        for doc in ordered:
            if doc.url == url:
                return doc
        return next((d for d in ordered if d.content_hash == content_hash), None)

    async def signatures(self) -> list[tuple[int, tuple[int, ...]]]:
        return [(i, d.signature) for i, d in self.documents.items()]

    async def insert_document(self, document: Document) -> int | None:
        if any(d.url == document.url for d in self.documents.values()):
            return None
        new_id = max(self.documents, default=0) + 1
        self.documents[new_id] = dataclasses.replace(document, id=new_id)
        return new_id

    async def update_document(self, document: Document) -> None:
        if document.id in self.documents:
            self.documents[document.id] = document

    async def get_document(self, document_id: int) -> Document | None:
        return self.documents.get(document_id)

    async def list_documents(
        self, limit: int, offset: int = 0, topic: str | None = None
    ) -> list[Document]:
        chosen = [d for d in self.documents.values() if topic is None or d.topic == topic]
        chosen.sort(key=lambda d: (-d.fetched_at, -(d.id or 0)))
        return chosen[offset : offset + limit]

    async def count_documents(self) -> int:
        return len(self.documents)

    async def search(
        self, query: str, limit: int, topic: str | None = None
    ) -> list[tuple[Document, float]]:
        chosen = [d for d in self.documents.values() if topic is None or d.topic == topic]
        tokenised = [terms(f"{d.title} {d.title} {d.text}") for d in chosen]
        scored = [(d, s) for d, s in zip(chosen, bm25_scores(query, tokenised), strict=True) if s]
        scored.sort(key=lambda pair: (-pair[1], pair[0].id or 0))
        return scored[: max(limit, 0)]

    async def log_ingest(self, record: IngestRecord) -> None:
        self.ingests.append(dataclasses.replace(record, id=len(self.ingests) + 1))

    async def list_ingests(self, limit: int, source_id: str | None = None) -> list[IngestRecord]:
        chosen = [r for r in self.ingests if source_id is None or r.source_id == source_id]
        chosen.sort(key=lambda r: (-r.finished_at, -(r.id or 0)))
        return chosen[:limit]

    async def record_use(self, use: KnowledgeUse) -> None:
        self.uses.append(use)

    async def uses_for(self, task_id: str) -> list[KnowledgeUse]:
        return sorted((u for u in self.uses if u.task_id == task_id), key=lambda u: u.used_at)

    async def usage_outcomes(self, since: float) -> list[UsageOutcome]:
        if self._state is None:
            return []
        used = {(u.task_id, u.attempt) for u in self.uses}
        counts: dict[tuple[str, bool], list[int]] = defaultdict(lambda: [0, 0])
        for key, execution in self._state.executions.items():
            if execution.finished_at < since:
                continue
            tally = counts[(execution.task_type, key in used)]
            tally[0] += 1
            tally[1] += execution.outcome is Outcome.SUCCEEDED
        return [
            UsageOutcome(task_type, was_used, n, ok)
            for (task_type, was_used), (n, ok) in sorted(counts.items())
        ]
