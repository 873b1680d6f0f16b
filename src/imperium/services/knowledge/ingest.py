"""Ingestion: every enabled source is fetched (concurrently; a failing one is recorded and
does not stop the others), then each item is normalised, merged into a stored document when
it is the same (same URL, same content hash, or a MinHash similarity of at least
``NEAR_DUPLICATE``), or stored with its relevance, novelty and learning value.

Ingesting the same answer twice stores nothing new: every item merges by its URL."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from imperium.domain.knowledge import (
    Document,
    FetchedItem,
    IngestRecord,
    IngestStatus,
    Source,
    SourceKind,
    SourceState,
)
from imperium.domain.knowledge_text import (
    NEAR_DUPLICATE,
    content_hash,
    learning_value,
    normalise_text,
    novelty,
    relevance,
    signature,
    similarity,
    terms,
)
from imperium.ports import Clock
from imperium.services.knowledge.ports import Connector, FetchOutcome, KnowledgeStore

log = logging.getLogger(__name__)

Progress = Callable[[str, IngestRecord], None]


@dataclass(slots=True)
class Tally:
    stored: int = 0
    merged: int = 0


class Ingester:
    def __init__(
        self,
        store: KnowledgeStore,
        connectors: Mapping[SourceKind, Connector],
        clock: Clock,
        max_results: int = 20,
    ) -> None:
        self._store = store
        self._connectors = connectors
        self._clock = clock
        self.max_results = max_results
        self._keeping = asyncio.Lock()
        """One keep at a time: its find-then-insert must not race another ingest's."""

    async def run(
        self,
        source_ids: Sequence[str] | None = None,
        progress: Progress | None = None,
        topics: Sequence[str] | None = None,
    ) -> list[IngestRecord]:
        """Fetch every enabled source (or those named) about ``topics`` (by default every
        registered topic), store what is new; one record per source, also written to the
        ingestion log."""
        sources = [
            s for s in await self._store.list_sources()
            if (s.id in source_ids if source_ids is not None else s.enabled)
        ]  # fmt: skip
        if topics is None:
            topics = sorted({t.name for t in await self._store.list_topics()})
        topics = list(topics)
        started = self._clock.now()
        outcomes = await asyncio.gather(*(self._fetch(s, topics) for s in sources))
        records = []
        for source, outcome in zip(sources, outcomes, strict=True):
            try:
                record = await self._keep(source, outcome, topics, started)
            except Exception as exc:  # one source's items must not stop the others
                log.exception("keeping a source's items failed", extra={"source": source.id})
                error = f"its items could not be stored: {type(exc).__name__}: {exc}"[:2000]
                record = IngestRecord(source.id, started, self._clock.now(), IngestStatus.FAILED,
                                      fetched=len(outcome.items), error=error)  # fmt: skip
                # not kept: forget the validators so the next ingest fetches them again
                outcome = dataclasses.replace(
                    outcome,
                    state=dataclasses.replace(
                        outcome.state, etag=None, last_modified=None, last_error=error
                    ),
                )
            await self._store.save_state(outcome.state)  # after the items are kept
            await self._store.log_ingest(record)
            records.append(record)
            if progress is not None:
                progress(source.id, record)
        return records

    async def _fetch(self, source: Source, topics: list[str]) -> FetchOutcome:
        state = await self._store.get_state(source.id) or SourceState(source.id)
        connector = self._connectors.get(source.kind)
        if connector is None:
            return FetchOutcome(IngestStatus.FAILED, state, error=f"no connector for {source.kind}")
        try:
            return await connector.fetch(source, state, topics, self.max_results)
        except Exception as exc:  # a connector's own bug must not stop the other sources
            log.exception("connector failed", extra={"source": source.id})
            return FetchOutcome(IngestStatus.FAILED, state, error=f"{type(exc).__name__}: {exc}")

    async def _keep(
        self, source: Source, outcome: FetchOutcome, topics: list[str], started: float
    ) -> IngestRecord:
        tally = await self.keep_items(source, outcome.items, topics)
        error = outcome.error
        if outcome.skipped_items:
            note = f"{outcome.skipped_items} malformed item(s) left out"
            error = f"{error}; {note}" if error else note
        return IngestRecord(
            source.id, started, self._clock.now(), outcome.status, fetched=len(outcome.items),
            stored=tally.stored, merged=tally.merged, error=error,
        )  # fmt: skip

    async def keep_items(
        self, source: Source, items: Sequence[FetchedItem], topics: Sequence[str]
    ) -> Tally:
        """Store what is new among ``items``, merge the rest; how many of each. The text
        work (normalising, hashing, MinHash) runs in a thread: a large directory must not
        hold the server's event loop."""
        tally = Tally()
        ready = [p for p in await asyncio.to_thread(_prepare_all, items) if p is not None]
        if ready:
            async with self._keeping:
                stored = await self._store.signatures()
                corpus = (Counter(t for p in ready for t in set(p.terms)), len(ready))
                for prepared in ready:
                    await self._keep_item(source, prepared, list(topics), stored, corpus, tally)
        return tally

    async def _keep_item(
        self,
        source: Source,
        p: _Prepared,
        topics: list[str],
        stored: list[tuple[int, tuple[int, ...]]],
        corpus: tuple[Counter[str], int],
        tally: Tally,
    ) -> None:
        same = await self._store.find_document(p.item.url, p.digest)
        new = 1.0
        if same is None:  # a scan of every stored signature: off the loop
            nearest, new = await asyncio.to_thread(_nearest, p.signature, stored)
            if nearest is not None:
                same = await self._store.get_document(nearest)
        if same is not None:
            await self._merge(same, p)
            tally.merged += 1
            return
        topic, score = _best_topic(p.item.topic, topics, p.terms, corpus)
        document = Document(
            url=p.item.url, source_id=source.id, title=p.title, text=p.text,
            content_hash=p.digest, signature=p.signature, fetched_at=self._clock.now(),
            topic=topic, author=p.item.author, published_at=p.item.published_at,
            relevance=score, novelty=new, learning_value=learning_value(score, new, source.trust),
        )  # fmt: skip
        new_id = await self._store.insert_document(document)
        if new_id is None:  # stored meanwhile by another process: merge into it
            same = await self._store.find_document(p.item.url, p.digest)
            if same is not None:
                await self._merge(same, p)
            tally.merged += 1
            return
        stored.append((new_id, p.signature))
        tally.stored += 1

    async def _merge(self, same: Document, p: _Prepared) -> None:
        """A copy from another URL counts as a duplicate of ``same``; the same URL with a
        changed text replaces it; an unchanged re-fetch changes nothing."""
        if same.url != p.item.url:
            await self._store.update_document(
                dataclasses.replace(same, duplicates=same.duplicates + 1)
            )
        elif same.content_hash != p.digest:
            changed = dataclasses.replace(
                same, title=p.title, text=p.text, content_hash=p.digest, signature=p.signature,
                fetched_at=self._clock.now(),
            )  # fmt: skip
            await self._store.update_document(changed)


class _Prepared(NamedTuple):
    item: FetchedItem
    title: str
    text: str
    digest: str
    signature: tuple[int, ...]
    terms: list[str]


MAX_URL = 2000
MAX_AUTHOR = 300
MAX_TOPIC = 200
"""The stored columns' sizes: a longer URL is left out, a longer author or topic cut."""


def _nearest(
    sig: tuple[int, ...], stored: list[tuple[int, tuple[int, ...]]]
) -> tuple[int | None, float]:
    """The stored document near-identical to ``sig`` (or None), and ``sig``'s novelty: a
    scan of every stored signature, run in a thread."""
    best = max(stored, key=lambda pair: similarity(sig, pair[1]), default=None)
    near = best[0] if best is not None and similarity(sig, best[1]) >= NEAR_DUPLICATE else None
    return near, novelty(sig, (s for _, s in stored))


def _clean(value: str | None, limit: int) -> str | None:
    """``value`` without NUL characters (no database stores them in text), cut to
    ``limit`` characters; None when nothing is left."""
    if value is None:
        return None
    value = value.replace("\x00", "").strip()[:limit]
    return value or None


def _prepare(item: FetchedItem) -> _Prepared | None:
    """The item ready to store, or None when it cannot be (no text, a URL that is empty,
    longer than ``MAX_URL`` or holds a NUL)."""
    url = item.url.strip()
    if not url or len(url) > MAX_URL or "\x00" in url:
        return None
    item = dataclasses.replace(
        item, url=url, author=_clean(item.author, MAX_AUTHOR), topic=_clean(item.topic, MAX_TOPIC)
    )
    title = normalise_text(item.title.replace("\x00", "")) or url
    text = normalise_text(item.text.replace("\x00", ""))
    if not text:
        return None
    whole = f"{title} {text}"
    return _Prepared(item, title, text, content_hash(whole), signature(whole), terms(whole))


def _prepare_all(items: Sequence[FetchedItem]) -> list[_Prepared | None]:
    return [_prepare(item) for item in items]


def _best_topic(
    given: str | None,
    topics: list[str],
    doc_terms: list[str],
    corpus: tuple[Counter[str], int],
) -> tuple[str | None, float]:
    """The item's own topic when it has one, else the registered topic it is most
    relevant to; with the relevance."""
    df, n = corpus
    candidates = [given] if given else topics
    scored = [(t, relevance(t, doc_terms, df, n)) for t in candidates]
    if not scored:
        return None, 0.0
    return max(scored, key=lambda pair: pair[1])
