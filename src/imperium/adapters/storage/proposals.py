"""``SqlProposalStore``: the ``ProposalStore`` port — proposals and their lifecycle, with
one live proposal per fingerprint enforced by the database (a partial unique index)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from imperium.adapters.storage import _rows
from imperium.adapters.storage.database import SqlArea
from imperium.adapters.storage.tables import proposals
from imperium.domain.errors import ConflictError
from imperium.domain.proposals import LIVE, Proposal, ProposalStatus

LIVE_PROPOSAL_STATUSES = tuple(status.value for status in LIVE)


class SqlProposalStore(SqlArea):
    async def insert_proposal(self, proposal: Proposal) -> None:
        """The partial unique index on live fingerprints refuses a duplicate, so two
        concurrent submissions of the same change cannot both land."""
        try:
            async with self._db.transaction() as conn:
                await conn.execute(sa.insert(proposals), [_rows.proposal_row(proposal)])
        except IntegrityError as exc:
            raise await self._proposal_conflict(
                proposal, f"a proposal with id '{proposal.proposal_id}' already exists"
            ) from exc

    async def get_proposal(self, proposal_id: str) -> Proposal | None:
        query = sa.select(proposals).where(proposals.c.proposal_id == proposal_id)
        rows = await self._db.fetch(query)
        return _rows.proposal_from_row(rows[0]) if rows else None

    async def list_proposals(
        self,
        status: ProposalStatus | None = None,
        agent_id: str | None = None,
        limit: int = 100,
    ) -> list[Proposal]:
        p = proposals
        query = sa.select(p).order_by(p.c.created_at.desc(), p.c.proposal_id.desc()).limit(limit)
        if status is not None:
            query = query.where(p.c.status == status.value)
        if agent_id is not None:
            query = query.where(p.c.agent_id == agent_id)
        return [_rows.proposal_from_row(row) for row in await self._db.fetch(query)]

    async def update_proposal(self, proposal: Proposal, expected: ProposalStatus) -> bool:
        """A compare-and-set on the status: the row is written only if it still has
        ``expected``."""
        p = proposals
        update = (
            sa.update(p)
            .where(p.c.proposal_id == proposal.proposal_id, p.c.status == expected.value)
            .values(**_rows.proposal_values(proposal))
        )
        try:
            async with self._db.transaction() as conn:
                result = await conn.execute(update)
        except IntegrityError as exc:
            raise await self._proposal_conflict(
                proposal, "a proposal with the same title and change already exists"
            ) from exc
        return result.rowcount == 1

    async def _proposal_conflict(self, proposal: Proposal, otherwise: str) -> ConflictError:
        """The error for a proposal write the database refused: it names the live proposal
        with the same fingerprint when there is one (else says ``otherwise``). Inside a
        caller's unit of work it does not look: the refused statement has aborted that
        transaction on PostgreSQL, and the whole unit of work fails anyway."""
        if self._db.in_unit_of_work:
            return ConflictError(otherwise)
        p = proposals
        query = (
            sa.select(p.c.proposal_id, p.c.status)
            .where(
                p.c.fingerprint == proposal.fingerprint,
                p.c.status.in_(LIVE_PROPOSAL_STATUSES),
                p.c.proposal_id != proposal.proposal_id,
            )
            .limit(1)
        )
        rows = await self._db.fetch(query)
        if rows:
            return ConflictError(
                "a proposal with the same title and change already exists: "
                f"{rows[0].proposal_id} ({rows[0].status})"
            )
        return ConflictError(otherwise)
