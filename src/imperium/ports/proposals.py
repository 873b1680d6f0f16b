"""The store of improvement proposals."""

from __future__ import annotations

from typing import Protocol

from imperium.domain.proposals import Proposal, ProposalStatus


class ProposalStore(Protocol):
    async def insert_proposal(self, proposal: Proposal) -> None:
        """A ConflictError when a proposal with the same fingerprint is pending, approved
        or applied (the database enforces it too, so concurrent submissions cannot both
        land)."""
        ...

    async def get_proposal(self, proposal_id: str) -> Proposal | None: ...

    async def list_proposals(
        self,
        status: ProposalStatus | None = None,
        agent_id: str | None = None,
        limit: int = 100,
    ) -> list[Proposal]:
        """Newest first."""
        ...

    async def update_proposal(self, proposal: Proposal, expected: ProposalStatus) -> bool:
        """Store ``proposal`` if the stored one still has status ``expected`` (so two
        people deciding at once cannot both win); False otherwise."""
        ...
