"""Proposals: agents suggest improvements; people approve, reject and apply them.

Only an agent the custody protocol deems eligible (``domain/custody.can_create_proposals``)
may submit; the refusal says what the agent's level still needs. Decisions are
compare-and-set on the stored status, so two people deciding at once cannot both win.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from imperium.domain.auth import ForbiddenError
from imperium.domain.custody import CustodyRecord, can_create_proposals, eligibility_reason
from imperium.domain.errors import ConflictError, NotFoundError
from imperium.domain.proposals import Proposal, ProposalStatus, decide, new_proposal
from imperium.ports import AgentStore, Clock, CustodyStore, ProposalStore


class NotEligibleError(ForbiddenError):
    """The agent may not submit proposals yet (custody)."""


class ProposalServiceStore(ProposalStore, CustodyStore, AgentStore, Protocol):
    """What proposals read and write."""


class ProposalService:
    def __init__(
        self, store: ProposalServiceStore, clock: Clock, new_id: Callable[[], str]
    ) -> None:
        self.store = store
        self.clock = clock
        self.new_id = new_id

    async def submit(
        self,
        agent_id: str,
        title: str,
        description: str = "",
        diff: str | None = None,
        action: dict[str, object] | None = None,
        evidence: list[object] | None = None,
    ) -> Proposal:
        if await self.store.get_agent(agent_id) is None:
            raise NotFoundError(f"no agent with id {agent_id}; see `imperium agents list`")
        record = await self.store.get_custody(agent_id) or CustodyRecord(agent_id)
        if not can_create_proposals(record):
            raise NotEligibleError(
                f"agent {agent_id} may not submit proposals: {eligibility_reason(record)}; "
                f"see `imperium custody status {agent_id}`"
            )
        proposal = new_proposal(
            self.new_id(), agent_id, title, description, diff, action, evidence or [],
            self.clock.now(),
        )  # fmt: skip
        await self.store.insert_proposal(proposal)
        return proposal

    async def get(self, proposal_id: str) -> Proposal:
        proposal = await self.store.get_proposal(proposal_id)
        if proposal is None:
            raise NotFoundError(f"no proposal with id {proposal_id}")
        return proposal

    async def list(
        self,
        status: ProposalStatus | None = None,
        agent_id: str | None = None,
        limit: int = 100,
    ) -> list[Proposal]:
        return await self.store.list_proposals(status, agent_id, limit)

    async def decide(
        self, proposal_id: str, to: ProposalStatus, by: str, note: str | None = None
    ) -> Proposal:
        """Approve, reject or apply; who and when are recorded."""
        current = await self.get(proposal_id)
        changed = decide(current, to, by, self.clock.now(), note)
        if not await self.store.update_proposal(changed, current.status):
            latest = await self.get(proposal_id)
            raise ConflictError(
                f"proposal {proposal_id} changed meanwhile (now {latest.status}); look again"
            )
        return changed
