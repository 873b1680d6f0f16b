"""Custody and proposals: each tested agent's standing (level, XP, pass rate), the latest
graded results with each check the grader made, and proposals with Approve, Reject and
Apply forms, decided as the signed-in key (``key:<id>``, as the API records it)."""

from __future__ import annotations

import asyncio
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.responses import Response

from imperium.domain.custody import can_create_proposals, eligibility_reason
from imperium.domain.errors import ImperiumError, NotFoundError
from imperium.domain.proposals import ProposalStatus
from imperium.interfaces.api.deps import services_of
from imperium.interfaces.dashboard.access import form, viewer, writer
from imperium.interfaces.dashboard.pages import redirect, render

router = APIRouter(include_in_schema=False)

RESULTS = 20
PROPOSALS = 100
MAX_NOTE = 1000
DECISIONS = {
    "approve": ProposalStatus.APPROVED,
    "reject": ProposalStatus.REJECTED,
    "apply": ProposalStatus.APPLIED,
}


@router.get("/custody")
async def custody_page(request: Request) -> Response:
    who = await viewer(request)
    stored = services_of(request.app).custody_records
    records, results = await asyncio.gather(
        stored.list_custody(), stored.list_custody_results(None, RESULTS)
    )
    standings = [
        {"record": r, "eligible": can_create_proposals(r), "reason": eligibility_reason(r)}
        for r in sorted(records, key=lambda r: (-r.level, -r.xp, r.agent_id))
    ]
    return render(request, who, "custody.html", standings=standings, results=results)


@router.get("/proposals")
async def proposal_page(request: Request) -> Response:
    who = await viewer(request)
    status = request.query_params.get("status", "")
    wanted = ProposalStatus(status) if status in set(ProposalStatus) else None
    found = await services_of(request.app).proposals.list(wanted, None, PROPOSALS)
    return render(
        request,
        who,
        "proposals.html",
        proposals=found,
        status_filter=status,
        statuses=[str(s) for s in ProposalStatus],
        notice=request.query_params.get("notice", "")[:200],
    )


@router.post("/proposals/{proposal_id}/{decision}")
async def decide(request: Request, proposal_id: str, decision: str) -> Response:
    who = await writer(request)
    to = DECISIONS.get(decision)
    if to is None:
        raise NotFoundError(f"proposals can be approved, rejected or applied, not {decision!r}")
    note = (await form(request)).get("note", "").strip()[:MAX_NOTE] or None
    proposals = services_of(request.app).proposals
    try:
        await proposals.decide(proposal_id, to, who.acting_as, note)
    except NotFoundError:
        raise
    except ImperiumError as exc:
        notice = str(exc)
    else:
        notice = f"proposal {proposal_id} {to}"
    return redirect(request, who, "/proposals?" + urlencode({"notice": notice}))
