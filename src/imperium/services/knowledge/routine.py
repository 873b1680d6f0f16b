"""Ingestion as a scheduled routine (the seed's internet learning, every 30 minutes by
default: ``INTERNET_LEARNING_INTERVAL``)."""

from __future__ import annotations

from imperium.domain.knowledge import IngestStatus
from imperium.services.knowledge.service import KnowledgeService
from imperium.services.routines import Routine

NAME = "internet_learning"


def ingest_routine(knowledge: KnowledgeService, interval: float) -> Routine:
    async def ingest() -> dict[str, object]:
        if not any(s.enabled for s in await knowledge.store.list_sources()):
            reason = "no enabled trusted source (imperium knowledge sources add)"
            return {"status": "skipped", "reason": reason}
        records = await knowledge.ingest()
        failed = [r.source_id for r in records if r.status is IngestStatus.FAILED]
        return {
            "status": "ok" if not failed else "partial",
            "sources": len(records),
            "stored": sum(r.stored for r in records),
            "merged": sum(r.merged for r in records),
            "failed": failed,
        }

    return Routine(
        NAME, interval, ingest,
        "fetches every enabled trusted source into the knowledge base (new documents "
        "stored, copies merged, failures recorded per source)",
    )  # fmt: skip
