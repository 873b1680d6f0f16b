"""The knowledge base's records as JSON (shared by ``/api/v1/knowledge`` and the seed's
internet-learning routes)."""

from __future__ import annotations

import dataclasses
from typing import Any

from imperium.domain.knowledge import Document, IngestRecord, KnowledgeHit, Source, SourceState
from imperium.interfaces.records import iso


def source_dict(source: Source, state: SourceState | None = None) -> dict[str, Any]:
    """A source and what it remembers (never a key or token: those stay in variables)."""
    shown: dict[str, Any] = {
        "id": source.id, "kind": source.kind.value, "url": source.url, "trust": source.trust,
        "enabled": source.enabled, "allowed_domains": list(source.domains()),
        "daily_quota": source.daily_quota, "min_interval": source.min_interval,
        "params": source.params, "created_at": iso(source.created_at),
    }  # fmt: skip
    if state is not None:
        shown["state"] = {
            "last_run_at": iso(state.last_run_at), "last_error": state.last_error,
            "requests_today": state.quota_used, "api_quota_remaining": state.api_quota_remaining,
            "backoff_until": iso(state.backoff_until), "etag": state.etag,
        }  # fmt: skip
    return shown


def document_dict(doc: Document, *, text: bool = True) -> dict[str, Any]:
    shown = {
        "id": doc.id, "url": doc.url, "source": doc.source_id, "topic": doc.topic,
        "title": doc.title, "author": doc.author, "published_at": iso(doc.published_at),
        "fetched_at": iso(doc.fetched_at), "content_hash": doc.content_hash,
        "relevance": doc.relevance, "novelty": doc.novelty,
        "learning_value": doc.learning_value, "duplicates": doc.duplicates,
    }  # fmt: skip
    if text:
        shown["text"] = doc.text
    return shown


def hit_dict(hit: KnowledgeHit) -> dict[str, Any]:
    return dataclasses.asdict(hit)


def record_dict(record: IngestRecord) -> dict[str, Any]:
    """One source's part of an ingest (``id`` only once read back from the log)."""
    shown = {
        "source": record.source_id, "status": record.status.value,
        "started_at": iso(record.started_at), "finished_at": iso(record.finished_at),
        "fetched": record.fetched, "stored": record.stored, "merged": record.merged,
        "error": record.error,
    }  # fmt: skip
    return shown if record.id is None else {"id": record.id, **shown}
