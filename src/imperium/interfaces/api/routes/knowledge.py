"""``/api/v1/knowledge``: the knowledge base — search (agents on remote workers search
here, and their attempt's use is recorded), documents, trusted sources, topics, ingestion
and its log, and whether attempts that used knowledge succeed more often."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response

from imperium.domain.auth import ForbiddenError, Role
from imperium.domain.errors import NotFoundError
from imperium.domain.knowledge import Source
from imperium.domain.models import Task
from imperium.interfaces.api.auth import CurrentPrincipal
from imperium.interfaces.api.deps import Knowledge, Queries
from imperium.interfaces.api.schemas import problems
from imperium.interfaces.api.schemas.knowledge import IngestIn, SearchIn, SourceIn, TopicIn
from imperium.interfaces.api.views.knowledge import (
    document_dict,
    hit_dict,
    record_dict,
    source_dict,
)
from imperium.interfaces.records import iso
from imperium.services.knowledge.service import AttemptRef

router = APIRouter(prefix="/api/v1/knowledge", tags=["knowledge"])
DAY = 86_400.0
MAX_OFFSET = 1_000_000_000  # as /api/v1/tasks: a database integer's range, a 422 not a 500
MAX_DOCUMENT_ID = 2**31 - 1  # the id column is a 32-bit integer on PostgreSQL


@router.get("/search", responses=problems(422))
async def search(
    knowledge: Knowledge,
    q: Annotated[str, Query(min_length=1, max_length=1000)],
    k: Annotated[int, Query(ge=1, le=50)] = 5,
    topic: str | None = None,
) -> dict[str, Any]:
    """The ``k`` best documents for ``q`` (keyword search ranked by the database)."""
    hits = await knowledge.search(q, k, topic)
    return {"query": q, "k": k, "items": [hit_dict(h) for h in hits]}


@router.post("/search", responses=problems(403, 404, 422))
async def search_for(
    body: SearchIn, knowledge: Knowledge, queries: Queries, principal: CurrentPrincipal
) -> dict[str, Any]:
    """A search; with ``task_id`` and ``attempt`` (a remote worker's ``ctx.knowledge``),
    the documents found are recorded as used by that attempt. An agent key records only
    for its own agent's attempts (the agent is the key's; a ``agent_id`` naming another
    is 403, and so is an attempt that agent did not make)."""
    if body.task_id is None or body.attempt is None:
        hits = await knowledge.search(body.query, body.k, body.topic)
    else:
        agent_id = body.agent_id
        if principal.role is Role.AGENT:
            agent_id = agent_id or principal.agent_id
            principal.require_agent(agent_id or "")
        task = await queries.get_task(body.task_id)
        if task is None:
            raise NotFoundError(f"no task {body.task_id}")
        if principal.role is Role.AGENT and not await _made_by(
            queries, task, body.attempt, agent_id
        ):
            raise ForbiddenError(
                f"attempt {body.attempt} of task {body.task_id} is not agent "
                f"'{agent_id}''s: an agent key records knowledge only for its own attempts"
            )
        ref = AttemptRef(body.task_id, body.attempt, agent_id, task.type)
        hits = await knowledge.search_for_attempt(body.query, body.k, ref, body.topic)
    return {"query": body.query, "k": body.k, "items": [hit_dict(h) for h in hits]}


async def _made_by(queries: Queries, task: Task, attempt: int, agent_id: str | None) -> bool:
    """Whether ``agent_id`` holds ``attempt`` of ``task`` now, or made it."""
    if task.agent_id == agent_id and task.attempts == attempt:
        return True
    return any(
        e.attempt == attempt and e.agent_id == agent_id
        for e in await queries.executions_for(task.id)
    )


@router.get("/documents")
async def list_documents(
    knowledge: Knowledge,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    topic: str | None = None,
) -> dict[str, Any]:
    """Documents, newest fetched first (without their text)."""
    docs = await knowledge.store.list_documents(limit, offset, topic)
    total = await knowledge.store.count_documents()
    return {"total": total, "items": [document_dict(d, text=False) for d in docs]}


@router.get("/documents/{document_id}", responses=problems(404))
async def get_document(
    document_id: Annotated[int, Path(le=MAX_DOCUMENT_ID)], knowledge: Knowledge
) -> dict[str, Any]:
    doc = await knowledge.store.get_document(document_id)
    if doc is None:
        raise NotFoundError(f"no document {document_id}")
    return document_dict(doc)


@router.get("/sources")
async def list_sources(knowledge: Knowledge) -> dict[str, Any]:
    sources = await knowledge.store.list_sources()
    return {"items": [source_dict(s, await knowledge.store.get_state(s.id)) for s in sources]}


@router.post("/sources", status_code=201, responses=problems(409, 422))
async def add_source(body: SourceIn, knowledge: Knowledge) -> dict[str, Any]:
    """Register a trusted source (nothing is fetched outside its allowed domains)."""
    added = await knowledge.add_source(_source(body))
    return source_dict(added)


@router.get("/sources/{source_id}", responses=problems(404))
async def get_source(source_id: str, knowledge: Knowledge) -> dict[str, Any]:
    source = await knowledge.source(source_id)
    return source_dict(source, await knowledge.store.get_state(source_id))


@router.delete("/sources/{source_id}", status_code=204, responses=problems(404))
async def remove_source(source_id: str, knowledge: Knowledge) -> Response:
    """Forget the source (its documents stay)."""
    await knowledge.remove_source(source_id)
    return Response(status_code=204)


@router.get("/topics")
async def list_topics(knowledge: Knowledge) -> dict[str, Any]:
    topics = await knowledge.store.list_topics()
    return {"items": [{"name": t.name, "agent_id": t.agent_id, "created_at": iso(t.created_at)}
                      for t in topics]}  # fmt: skip


@router.post("/topics", status_code=201, responses=problems(422))
async def add_topic(body: TopicIn, knowledge: Knowledge) -> dict[str, Any]:
    topic = await knowledge.add_topic(body.name, body.agent_id)
    return {"name": topic.name, "agent_id": topic.agent_id, "created_at": iso(topic.created_at)}


@router.delete("/topics", status_code=204, responses=problems(404))
async def remove_topic(
    knowledge: Knowledge,
    name: Annotated[str, Query(min_length=1, max_length=200)],
    agent_id: str | None = None,
) -> Response:
    await knowledge.remove_topic(name, agent_id)
    return Response(status_code=204)


@router.post("/ingest", responses=problems(404, 422))
async def ingest(knowledge: Knowledge, body: IngestIn | None = None) -> dict[str, Any]:
    """Fetch every enabled source now (or those named); one record per source."""
    records = await knowledge.ingest(body.source_ids if body else None)
    return {"items": [record_dict(r) for r in records],
            "stored": sum(r.stored for r in records)}  # fmt: skip


@router.get("/ingests")
async def ingestion_log(
    knowledge: Knowledge,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    source_id: str | None = None,
) -> dict[str, Any]:
    """The ingestion log, newest first: each source's outcome, error included."""
    return {"items": [record_dict(r) for r in await knowledge.store.list_ingests(limit, source_id)]}


@router.get("/uses/{task_id}")
async def uses(task_id: str, knowledge: Knowledge) -> dict[str, Any]:
    """The documents each attempt of the task was given by its searches."""
    return {"items": [
        {"attempt": u.attempt, "agent_id": u.agent_id, "query": u.query,
         "document_ids": list(u.document_ids), "used_at": iso(u.used_at)}
        for u in await knowledge.store.uses_for(task_id)
    ]}  # fmt: skip


@router.get("/impact")
async def impact(
    knowledge: Knowledge, days: Annotated[float, Query(gt=0, le=3650)] = 30.0
) -> dict[str, Any]:
    """Per task type, the success of attempts that used knowledge against those that did
    not (Wilson intervals; "insufficient data" below 10 attempts on either side)."""
    since = knowledge.now() - days * DAY
    return {"days": days, "items": [i.as_dict() for i in await knowledge.impact(since)]}


def _source(body: SourceIn) -> Source:
    return Source(
        id=body.id, kind=body.kind, url=body.url or "", trust=body.trust, enabled=body.enabled,
        allowed_domains=tuple(body.allowed_domains), daily_quota=body.daily_quota,
        min_interval=body.min_interval, params=body.params,
    )  # fmt: skip
