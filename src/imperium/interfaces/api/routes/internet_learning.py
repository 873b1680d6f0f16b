"""The seed's internet learning and trusted sources (``/api/imperium``), over the
knowledge base: a trigger ingests every enabled trusted source now, the log is the
ingestion log, the impact compares the success of attempts that used knowledge with those
that did not (per task type, with sample sizes: never an invented score), the interval is
the ingestion routine's, and results posted by clients are kept like ingested items.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from imperium.domain.errors import ConflictError, ValidationError
from imperium.domain.knowledge import FetchedItem, Source
from imperium.interfaces.api.deps import Agents, Knowledge, Schedules
from imperium.interfaces.api.schemas import problems
from imperium.interfaces.api.schemas.knowledge import (
    IntervalIn,
    ResultIn,
    SeedSourceIn,
    TopicsIn,
)
from imperium.interfaces.api.views.knowledge import record_dict, source_dict
from imperium.interfaces.records import iso
from imperium.services.knowledge.routine import NAME as ROUTINE
from imperium.services.routines import Routines

router = APIRouter(prefix="/api/imperium", tags=["imperium (seed)"])


def _stamp(knowledge: Any) -> str | None:
    return iso(knowledge.now())


@router.post("/internet-learning/trigger")
async def trigger(knowledge: Knowledge) -> dict[str, Any]:
    """Ingest every enabled trusted source now."""
    records = await knowledge.ingest()
    return _ingested(knowledge, records, "every enabled trusted source")


@router.post("/internet-learning/agent/{agent_id}", responses=problems(404))
async def trigger_for_agent(agent_id: str, knowledge: Knowledge, agents: Agents) -> dict[str, Any]:
    """Ingest about one agent's topics (its capabilities when it has none)."""
    spec = await agents.get(agent_id)
    topics = await knowledge.agent_topics(agent_id) or sorted(
        c.replace("_", " ") for c in spec.capabilities
    )
    records = await knowledge.ingest(topics=topics)
    result = _ingested(knowledge, records, f"agent {agent_id}'s topics")
    return {**result, "agent_id": agent_id, "topics": topics}


def _ingested(knowledge: Any, records: list[Any], what: str) -> dict[str, Any]:
    stored = sum(r.stored for r in records)
    failed = [r.source_id for r in records if r.status.value == "failed"]
    message = f"ingested {len(records)} source(s) for {what}: {stored} new document(s)"
    if failed:
        message += f"; failed: {', '.join(failed)} (see the log)"
    if not records:
        message = "no enabled trusted source: add one (POST /api/imperium/trusted-sources)"
    return {
        "status": "success" if records and not failed else "partial" if records else "skipped",
        "message": message, "results_stored": stored,
        "results": [record_dict(r) for r in records], "timestamp": _stamp(knowledge),
    }  # fmt: skip


@router.get("/internet-learning/log")
async def log(
    knowledge: Knowledge, limit: Annotated[int, Query(ge=1, le=1000)] = 50
) -> dict[str, Any]:
    records = await knowledge.store.list_ingests(limit)
    return {"logs": [record_dict(r) for r in records], "count": len(records),
            "timestamp": _stamp(knowledge)}  # fmt: skip


@router.get("/internet-learning/impact")
async def impact(
    knowledge: Knowledge, days: Annotated[float, Query(gt=0, le=3650)] = 30.0
) -> dict[str, Any]:
    """Whether attempts that used knowledge succeed more often, per task type."""
    found = await knowledge.impact(knowledge.now() - days * 86_400.0)
    return {
        "impact": [i.as_dict() for i in found],
        "insights": [i.insight for i in found],
        "documents": await knowledge.store.count_documents(),
        "days": days,
        "timestamp": _stamp(knowledge),
    }


@router.get("/internet-learning/interval")
async def get_interval(knowledge: Knowledge, routines: Schedules) -> dict[str, Any]:
    return _interval(knowledge, routines)


@router.post("/internet-learning/interval", responses=problems(409, 422))
async def set_interval(
    body: IntervalIn, knowledge: Knowledge, routines: Schedules
) -> dict[str, Any]:
    """Change how often ingestion runs (0: only when triggered), until the server stops."""
    seconds = body.seconds()
    if 0 < seconds < 60:
        raise ValidationError("the interval is 0 (only on demand) or at least 60 seconds")
    if routines is None or ROUTINE not in routines.routines:
        raise ConflictError("the server's routines have not started; try again in a moment")
    routine = routines.routines[ROUTINE]
    routine.interval = seconds
    routines.add(routine)  # planned again from now
    return _interval(knowledge, routines)


def _interval(knowledge: Any, routines: Routines | None) -> dict[str, Any]:
    routine = routines.routines.get(ROUTINE) if routines is not None else None
    seconds = routine.interval if routine is not None else None
    return {
        "interval_seconds": seconds,
        "interval_minutes": seconds / 60 if seconds is not None else None,
        "next_run": iso(routine.next_run) if routine is not None else None,
        "last_run": iso(routine.last_run) if routine is not None else None,
        "timestamp": _stamp(knowledge),
    }


@router.get("/internet-learning/topics")
async def get_topics(knowledge: Knowledge) -> dict[str, Any]:
    topics = await knowledge.store.list_topics()
    per_agent: dict[str, list[str]] = {}
    for t in topics:
        if t.agent_id is not None:
            per_agent.setdefault(t.agent_id, []).append(t.name)
    return {"topics": [t.name for t in topics if t.agent_id is None],
            "agent_topics": per_agent, "timestamp": _stamp(knowledge)}  # fmt: skip


@router.post("/internet-learning/topics", responses=problems(422))
async def set_topics(body: TopicsIn, knowledge: Knowledge) -> dict[str, Any]:
    """Replace the global topics (or ``agent_id``'s)."""
    topics = await knowledge.set_topics(body.topics, body.agent_id)
    return {"status": "success", "topics": [t.name for t in topics], "agent_id": body.agent_id,
            "timestamp": _stamp(knowledge)}  # fmt: skip


@router.get("/trusted-sources")
async def trusted_sources(knowledge: Knowledge) -> dict[str, Any]:
    sources = await knowledge.store.list_sources()
    shown = [source_dict(s, await knowledge.store.get_state(s.id)) for s in sources]
    return {"sources": shown, "count": len(shown), "timestamp": _stamp(knowledge)}


@router.post("/trusted-sources", responses=problems(409, 422))
async def add_trusted_source(body: SeedSourceIn, knowledge: Knowledge) -> dict[str, Any]:
    source = Source(
        id=str(body.id or body.name), kind=body.kind, url=body.url, trust=body.trust_level,
        enabled=body.enabled, allowed_domains=tuple(body.allowed_domains),
        daily_quota=body.daily_quota,
    )  # fmt: skip
    added = await knowledge.add_source(source)
    return {"status": "success", "message": f"trusted source {added.id} added",
            "source": source_dict(added), "timestamp": _stamp(knowledge)}  # fmt: skip


@router.delete("/trusted-sources", responses=problems(404, 422))
async def remove_trusted_source(
    knowledge: Knowledge, source_id: str | None = None, url: str | None = None
) -> dict[str, Any]:
    """Remove by ``source_id`` (or ``url``); its documents stay."""
    if source_id is None and url is None:
        raise ValidationError("name the source to remove: ?source_id=... or ?url=...")
    if source_id is None:
        matches = [s.id for s in await knowledge.store.list_sources() if s.url == url]
        source_id = matches[0] if matches else f"(url {url})"
    await knowledge.remove_source(source_id)
    return {"status": "success", "message": f"trusted source {source_id} removed",
            "timestamp": _stamp(knowledge)}  # fmt: skip


@router.post("/persistence/internet-learning-result", responses=problems(422))
async def store_result(body: ResultIn, knowledge: Knowledge) -> dict[str, Any]:
    """Keep a result found elsewhere: stored when new, merged into the same document
    when it is a copy (same URL, same text, or near-identical)."""
    item = FetchedItem(url=body.url, title=body.title, text=body.content or body.text or body.title,
                       author=body.author, topic=body.topic)  # fmt: skip
    tally = await knowledge.add_result(body.source, item)
    return {"status": "success", "stored": tally.stored, "merged": tally.merged,
            "timestamp": _stamp(knowledge)}  # fmt: skip
