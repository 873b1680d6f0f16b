"""Proposals: what makes one empty or a duplicate, and the lifecycle."""

from __future__ import annotations

import pytest

from imperium.domain.errors import ConflictError, ValidationError
from imperium.domain.proposals import ProposalStatus, decide, new_proposal


def make(title: str = "Cache DNS", description: str = "x", diff: str | None = None):
    return new_proposal("p1", "scout", title, description, diff, None, [], 1.0)


def test_empty_proposals_are_refused() -> None:
    with pytest.raises(ValidationError, match="needs a title"):
        make(title="  ")
    with pytest.raises(ValidationError, match="empty proposal"):
        make(description="", diff="   ")


def test_duplicates_are_the_same_title_and_change() -> None:
    assert (
        make("Cache DNS", diff="+a").fingerprint == make("  cache   dns", diff="+a  ").fingerprint
    )
    assert make(diff="+a").fingerprint != make(diff="+b").fingerprint
    # with no diff or action, the description is the change
    assert make(description="use a TTL").fingerprint != make(description="use nscd").fingerprint


def test_lifecycle() -> None:
    p = make()
    approved = decide(p, ProposalStatus.APPROVED, "ops", 2.0, "fine")
    assert (approved.decided_by, approved.decided_at, approved.decision_note) == (
        "ops",
        2.0,
        "fine",
    )
    applied = decide(approved, ProposalStatus.APPLIED, "ci", 3.0)
    assert (applied.status, applied.applied_by, applied.decided_by) == ("applied", "ci", "ops")
    for final, to in ((applied, ProposalStatus.REJECTED), (approved, ProposalStatus.REJECTED),
                      (p, ProposalStatus.APPLIED)):  # fmt: skip
        with pytest.raises(ConflictError, match="it can become"):
            decide(final, to, "ops", 4.0)
    with pytest.raises(ValidationError, match="who decides"):
        decide(p, ProposalStatus.REJECTED, " ", 4.0)
