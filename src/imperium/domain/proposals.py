"""Improvement proposals: what an agent suggests, and the lifecycle a person decides.

pending -> approved | rejected; approved -> applied. Who decided and when is recorded at
each step. Only agents the custody protocol deems eligible may submit; an empty proposal
(no title, or neither a description, a diff nor an action) and a duplicate (the same
title and change as a pending, approved or applied one) are refused.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from enum import StrEnum

from imperium.domain.errors import ConflictError, ValidationError


class ProposalStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    APPLIED = "applied"


NEXT = {
    ProposalStatus.PENDING: {ProposalStatus.APPROVED, ProposalStatus.REJECTED},
    ProposalStatus.APPROVED: {ProposalStatus.APPLIED},
    ProposalStatus.REJECTED: set(),
    ProposalStatus.APPLIED: set(),
}
LIVE = (ProposalStatus.PENDING, ProposalStatus.APPROVED, ProposalStatus.APPLIED)
"""Statuses a duplicate is checked against (a rejected idea may be proposed again)."""

MAX_TITLE = 200
MAX_TEXT = 100_000


@dataclass(frozen=True, slots=True)
class Proposal:
    proposal_id: str
    agent_id: str
    title: str
    description: str
    diff: str | None
    action: dict[str, object] | None
    evidence: list[object]
    status: ProposalStatus
    fingerprint: str
    created_at: float
    decided_by: str | None = None
    decided_at: float | None = None
    decision_note: str | None = None
    applied_by: str | None = None
    applied_at: float | None = None


def fingerprint(
    title: str, diff: str | None, action: dict[str, object] | None, description: str = ""
) -> str:
    """Same title (case and spacing aside) and same change: the same proposal. A proposal
    with no diff and no action is its description."""
    normal_title = " ".join(title.lower().split())
    normal_diff = "\n".join(line.rstrip() for line in (diff or "").strip().splitlines())
    text = " ".join(description.lower().split()) if diff is None and not action else ""
    body = json.dumps([normal_title, normal_diff, action, text], sort_keys=True, default=str)
    return hashlib.sha256(body.encode()).hexdigest()


def new_proposal(
    proposal_id: str,
    agent_id: str,
    title: str,
    description: str,
    diff: str | None,
    action: dict[str, object] | None,
    evidence: list[object],
    at: float,
) -> Proposal:
    """A pending proposal, or a ValidationError saying what is missing."""
    title = title.strip()
    description = description.strip()
    diff = diff if diff is None or diff.strip() else None
    if not title:
        raise ValidationError("a proposal needs a title")
    if len(title) > MAX_TITLE:
        raise ValidationError(f"the title is {len(title)} characters; at most {MAX_TITLE}")
    if not description and diff is None and not action:
        raise ValidationError(
            "an empty proposal: give a description, a diff or an action saying what to change"
        )
    for name, text in (("description", description), ("diff", diff or "")):
        if len(text) > MAX_TEXT:
            raise ValidationError(f"the {name} is longer than {MAX_TEXT} characters")
    return Proposal(
        proposal_id=proposal_id,
        agent_id=agent_id,
        title=title,
        description=description,
        diff=diff,
        action=action or None,
        evidence=list(evidence),
        status=ProposalStatus.PENDING,
        fingerprint=fingerprint(title, diff, action or None, description),
        created_at=at,
    )


def decide(
    proposal: Proposal, to: ProposalStatus, by: str, at: float, note: str | None = None
) -> Proposal:
    """The proposal moved to ``to`` by ``by``; a ConflictError for a move the lifecycle
    does not allow (e.g. applying a pending or a rejected proposal)."""
    if to not in NEXT[proposal.status]:
        allowed = ", ".join(sorted(NEXT[proposal.status])) or "nothing (it is final)"
        raise ConflictError(
            f"proposal {proposal.proposal_id} is {proposal.status}; it can become {allowed}"
        )
    if not by.strip():
        raise ValidationError("say who decides (decided_by)")
    if to is ProposalStatus.APPLIED:
        return replace(proposal, status=to, applied_by=by, applied_at=at)
    return replace(proposal, status=to, decided_by=by, decided_at=at, decision_note=note)
