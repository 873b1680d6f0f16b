"""What the knowledge base needs from the outside: a store, and connectors that fetch
from sources (one port for every kind: RSS/Atom, local files, Stack Exchange, GitHub,
arXiv), plus an optional embedder for semantic search."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from imperium.domain.knowledge import (
    Document,
    FetchedItem,
    IngestRecord,
    IngestStatus,
    KnowledgeUse,
    Source,
    SourceState,
    Topic,
)


@dataclass(frozen=True, slots=True)
class FetchOutcome:
    """What one source gave in one ingest. A connector never raises for a source's own
    failure (HTTP errors, timeouts, a malformed answer): it says so here, with whatever it
    fetched before, and the state to keep (quota spent, ETag, backoff)."""

    status: IngestStatus
    state: SourceState
    items: list[FetchedItem] = field(default_factory=list)
    error: str | None = None
    skipped_items: int = 0
    """Items in the answer that could not be read (malformed), left out."""


class Connector(Protocol):
    async def fetch(
        self, source: Source, state: SourceState, topics: Sequence[str], limit: int
    ) -> FetchOutcome:
        """At most ``limit`` items from ``source`` about ``topics`` (when the source
        searches; a feed gives what it has)."""
        ...


@dataclass(frozen=True, slots=True)
class UsageOutcome:
    """Finished attempts of one task type, split by whether they used knowledge."""

    task_type: str
    used_knowledge: bool
    attempts: int
    succeeded: int


class KnowledgeStore(Protocol):
    async def save_source(self, source: Source) -> None:
        """Add or replace (its state is kept)."""
        ...

    async def get_source(self, source_id: str) -> Source | None: ...

    async def list_sources(self) -> list[Source]: ...

    async def delete_source(self, source_id: str) -> bool:
        """Forget the source and its state (its documents stay); False if unknown."""
        ...

    async def get_state(self, source_id: str) -> SourceState | None: ...

    async def save_state(self, state: SourceState) -> None: ...

    async def add_topic(self, topic: Topic) -> bool:
        """False when it is already there."""
        ...

    async def list_topics(self) -> list[Topic]: ...

    async def remove_topic(self, name: str, agent_id: str | None) -> bool: ...

    async def find_document(self, url: str, content_hash: str) -> Document | None:
        """The document with this URL, else one with this content hash."""
        ...

    async def signatures(self) -> list[tuple[int, tuple[int, ...]]]:
        """Every stored document's id and MinHash signature."""
        ...

    async def insert_document(self, document: Document) -> int | None:
        """Store a new document; its id, or None when one with its URL is stored already
        (stored meanwhile by another writer: nothing is inserted)."""
        ...

    async def update_document(self, document: Document) -> None:
        """Replace the stored document with ``document.id``."""
        ...

    async def get_document(self, document_id: int) -> Document | None: ...

    async def list_documents(
        self, limit: int, offset: int = 0, topic: str | None = None
    ) -> list[Document]:
        """Newest fetched first."""
        ...

    async def count_documents(self) -> int: ...

    async def search(
        self, query: str, limit: int, topic: str | None = None
    ) -> list[tuple[Document, float]]:
        """Full-text search: documents matching any of the query's terms, best first,
        with the database's rank (higher is better)."""
        ...

    async def log_ingest(self, record: IngestRecord) -> None: ...

    async def list_ingests(self, limit: int, source_id: str | None = None) -> list[IngestRecord]:
        """Newest first."""
        ...

    async def record_use(self, use: KnowledgeUse) -> None: ...

    async def uses_for(self, task_id: str) -> list[KnowledgeUse]: ...

    async def usage_outcomes(self, since: float) -> list[UsageOutcome]:
        """Per task type, attempts finished since ``since`` that succeeded, split by
        whether a knowledge use was recorded for the attempt."""
        ...


class Embedder(Protocol):
    """Texts to unit-length vectors (the optional embeddings extra)."""

    name: str

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...
