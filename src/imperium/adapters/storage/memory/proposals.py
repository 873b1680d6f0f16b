"""``MemoryProposalStore``: the ``ProposalStore`` port in memory, with the SQL store's
partial unique index (one live proposal per fingerprint)."""

from __future__ import annotations

import dataclasses

from imperium.adapters.storage.memory._state import MemoryArea, json_copy
from imperium.domain.errors import ConflictError
from imperium.domain.proposals import LIVE, Proposal, ProposalStatus


class MemoryProposalStore(MemoryArea):
    async def insert_proposal(self, proposal: Proposal) -> None:
        self._check_live_duplicate(proposal)
        if proposal.proposal_id in self.state.proposals:
            raise ConflictError(f"a proposal with id '{proposal.proposal_id}' already exists")
        self.state.proposals[proposal.proposal_id] = _copy_proposal(proposal)

    async def get_proposal(self, proposal_id: str) -> Proposal | None:
        stored = self.state.proposals.get(proposal_id)
        return _copy_proposal(stored) if stored is not None else None

    async def list_proposals(
        self,
        status: ProposalStatus | None = None,
        agent_id: str | None = None,
        limit: int = 100,
    ) -> list[Proposal]:
        matching = [
            p
            for p in self.state.proposals.values()
            if (status is None or p.status is status)
            and (agent_id is None or p.agent_id == agent_id)
        ]
        matching.sort(key=lambda p: (p.created_at, p.proposal_id), reverse=True)
        return [_copy_proposal(p) for p in matching[: max(limit, 0)]]

    async def update_proposal(self, proposal: Proposal, expected: ProposalStatus) -> bool:
        stored = self.state.proposals.get(proposal.proposal_id)
        if stored is None or stored.status is not expected:
            return False
        self._check_live_duplicate(proposal)
        self.state.proposals[proposal.proposal_id] = _copy_proposal(proposal)
        return True

    def _check_live_duplicate(self, proposal: Proposal) -> None:
        """The SQL store's partial unique index: one live proposal per fingerprint."""
        if proposal.status not in LIVE:
            return
        for other in self.state.proposals.values():
            if (
                other.proposal_id != proposal.proposal_id
                and other.status in LIVE
                and other.fingerprint == proposal.fingerprint
            ):
                raise ConflictError(
                    "a proposal with the same title and change already exists: "
                    f"{other.proposal_id} ({other.status})"
                )


def _copy_proposal(proposal: Proposal) -> Proposal:
    return dataclasses.replace(
        proposal, action=json_copy(proposal.action), evidence=json_copy(list(proposal.evidence))
    )
