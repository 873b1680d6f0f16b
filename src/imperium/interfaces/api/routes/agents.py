"""/api/v1/agents: register, list, show, update, pause, resume and retire agents.

Changes go through the agent registry, which tells the running engine at once.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from imperium.domain.auth import ForbiddenError, Role
from imperium.domain.errors import ValidationError
from imperium.domain.models import AgentSpec
from imperium.domain.states import AgentStatus
from imperium.interfaces.api.auth import CurrentPrincipal
from imperium.interfaces.api.deps import Agents, Queries
from imperium.interfaces.api.schemas import AgentIn, AgentList, AgentOut, AgentPatch, problems
from imperium.interfaces.records import agent_dict
from imperium.ports import QueryStore
from imperium.services.agents import AgentService

router = APIRouter(prefix="/api/v1/agents", tags=["agents"])


async def _with_stats(queries: QueryStore, spec: AgentSpec) -> dict[str, Any]:
    stats = await queries.agent_stats(spec.id)  # this agent's executions only
    return agent_dict(spec, stats.get(spec.id), (await queries.agent_loads()).get(spec.id))


@router.post("", status_code=201, response_model=AgentOut, responses=problems(409, 422))
async def register_agent(
    body: AgentIn, agents: Agents, principal: CurrentPrincipal
) -> dict[str, Any]:
    """Register an agent; a local type must be importable, an id may be used only once.
    An agent key may register only its own agent, only as a remote agent (a local type
    runs code inside the server, which only an admin may ask for), and only with the
    capabilities the key allows (403 naming the others)."""
    principal.require_agent(body.agent_id)
    if principal.role is Role.AGENT and body.type != "remote":
        raise ForbiddenError(
            "an agent key may register its agent only with type 'remote'; "
            "an admin registers agents that run inside the server"
        )
    principal.require_capabilities(body.capabilities or [body.agent_id])  # the default
    spec = await agents.register(body.to_spec())
    return agent_dict(spec, None)


@router.get("", response_model=AgentList)
async def list_agents(agents: Agents) -> dict[str, Any]:
    """Every agent, retired ones included, with figures from their recorded attempts."""
    stats, loads = await agents.stats(), await agents.loads()
    items = [agent_dict(a, stats.get(a.id), loads.get(a.id)) for a in await agents.list()]
    return {"items": items, "total": len(items)}


@router.get("/{agent_id}", response_model=AgentOut, responses=problems(404, 422))
async def get_agent(
    agent_id: str, agents: Agents, queries: Queries, principal: CurrentPrincipal
) -> dict[str, Any]:
    principal.require_agent(agent_id)
    return await _with_stats(queries, await agents.get(agent_id))


@router.patch("/{agent_id}", response_model=AgentOut, responses=problems(404, 409, 422))
async def update_agent(
    agent_id: str, body: AgentPatch, agents: Agents, queries: Queries
) -> dict[str, Any]:
    """Change the fields given; a retired agent cannot change (409)."""
    changes = body.model_dump(exclude_unset=True)
    if not changes:
        editable = ", ".join(AgentPatch.model_fields)
        raise ValidationError(f"nothing to change; send at least one of {editable}")
    return await _with_stats(queries, await agents.update(agent_id, changes))


async def _set_status(
    agents: AgentService, queries: QueryStore, agent_id: str, status: AgentStatus
) -> dict[str, Any]:
    return await _with_stats(queries, await agents.set_status(agent_id, status))


@router.post("/{agent_id}/pause", response_model=AgentOut, responses=problems(404, 409, 422))
async def pause_agent(agent_id: str, agents: Agents, queries: Queries) -> dict[str, Any]:
    """Give the agent no new tasks; those it runs finish."""
    return await _set_status(agents, queries, agent_id, AgentStatus.PAUSED)


@router.post("/{agent_id}/resume", response_model=AgentOut, responses=problems(404, 409, 422))
async def resume_agent(agent_id: str, agents: Agents, queries: Queries) -> dict[str, Any]:
    return await _set_status(agents, queries, agent_id, AgentStatus.ACTIVE)


@router.post("/{agent_id}/retire", response_model=AgentOut, responses=problems(404, 409, 422))
async def retire_agent(agent_id: str, agents: Agents, queries: Queries) -> dict[str, Any]:
    """Retire the agent for good; its history is kept."""
    return await _set_status(agents, queries, agent_id, AgentStatus.RETIRED)
