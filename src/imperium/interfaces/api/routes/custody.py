"""``/api/custody`` (the seed's custody protocol, with real graders) and ``/api/proposals``.

A test is given with ``POST /api/custody/test/{ai_type}`` (``ai_type`` is the agent's id,
as the seed called its agents by type): the request returns when the agent has answered
and the answer is graded (at most the tier's time limit). Proposals are submitted by
agents the protocol deems eligible and decided by people.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from imperium.domain.custody import (
    TIERS,
    TIME_LIMITS,
    Category,
    can_create_proposals,
    eligibility_reason,
)
from imperium.domain.proposals import ProposalStatus
from imperium.interfaces.api.auth import CurrentPrincipal
from imperium.interfaces.api.deps import Custody, CustodyRecords, Proposals
from imperium.interfaces.api.schemas import problems
from imperium.interfaces.api.schemas.proposals import DecisionIn, ProposalIn
from imperium.interfaces.api.views.imperium import now
from imperium.interfaces.records import (
    proposal_dict,
    result_dict,
    run_dict,
    status_dict,
)
from imperium.ports import CustodyStore
from imperium.services.custody.service import CustodyService

router = APIRouter(prefix="/api/custody", tags=["custody"])
proposals_router = APIRouter(prefix="/api/proposals", tags=["proposals"])

CATEGORY_TEXT = {
    Category.KNOWLEDGE_VERIFICATION: "tests the agent's understanding",
    Category.CODE_QUALITY: "tests code writing and analysis",
    Category.SECURITY_AWARENESS: "tests security principles",
    Category.PERFORMANCE_OPTIMIZATION: "tests optimisation capabilities",
    Category.INNOVATION_CAPABILITY: "tests creative problem solving",
    Category.SELF_IMPROVEMENT: "tests learning from mistakes",
    Category.CROSS_AI_COLLABORATION: "tests coordination with other agents",
    Category.EXPERIMENTAL_VALIDATION: "tests experiment design and measurement",
}


async def _status_of(
    custody: CustodyService, records: CustodyStore, agent_id: str, history: int
) -> dict[str, Any]:
    record = await custody.record(agent_id)
    results = await records.list_custody_results(agent_id, history)
    return status_dict(record, results)


# ---------------------------------------------------------------------- custody
@router.get("")
async def custody_overview(custody: Custody, stored: CustodyRecords) -> dict[str, Any]:
    """Every tested agent's standing, the test bank's size, and the latest results."""
    records = await stored.list_custody()
    recent = await stored.list_custody_results(None, 20)
    bank = custody.bank
    return {
        "status": "success",
        "data": {
            "agents": {r.agent_id: status_dict(r, []) for r in records},
            "total_agents_tested": len(records),
            "test_bank": {"items": len(bank.items()), "task_types": sorted(bank.task_types())},
            "recent_results": [result_dict(r, brief=True) for r in recent],
        },
        "timestamp": now(),
    }


@router.get("/test-categories")
async def custody_categories(custody: Custody) -> dict[str, Any]:
    """The categories and tiers, with how many bank items each holds."""
    bank = custody.bank
    return {
        "categories": [
            {
                "name": c.value,
                "description": CATEGORY_TEXT[c],
                "items_per_difficulty": {
                    t.value: len(bank.items(category=c, difficulty=t)) for t in TIERS
                },
            }
            for c in Category
        ],
        "difficulties": [{"name": t.value, "time_limit_seconds": TIME_LIMITS[t]} for t in TIERS],
    }


@router.get("/analytics")
async def custody_analytics(
    stored: CustodyRecords, limit: Annotated[int, Query(ge=1, le=10_000)] = 1000
) -> dict[str, Any]:
    """Pass rates by category, by tier and by agent over the latest ``limit`` results."""
    results = await stored.list_custody_results(None, limit)

    def rates(key: str) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for r in results:
            name = {"category": r.category.value, "difficulty": r.difficulty.value,
                    "agent": r.agent_id}[key]  # fmt: skip
            entry = out.setdefault(name, {"tests": 0, "passed": 0, "mean_score": 0.0})
            entry["tests"] += 1
            entry["passed"] += r.passed
            entry["mean_score"] += r.score
        for entry in out.values():
            entry["pass_rate"] = entry["passed"] / entry["tests"]
            entry["mean_score"] = round(entry["mean_score"] / entry["tests"], 4)
        return out

    return {
        "status": "success",
        "data": {
            "results_analysed": len(results),
            "by_category": rates("category"),
            "by_difficulty": rates("difficulty"),
            "by_agent": rates("agent"),
        },
        "timestamp": now(),
    }


@router.get("/recommendations")
async def custody_recommendations(stored: CustodyRecords) -> dict[str, Any]:
    """Per tested agent: categories it fails (≥ 3 tests, pass rate below 50%) and what its
    level still needs for proposals."""
    out: dict[str, list[str]] = {}
    for record in await stored.list_custody():
        results = await stored.list_custody_results(record.agent_id, 200)
        tips = []
        by_category: dict[str, list[bool]] = {}
        for r in results:
            by_category.setdefault(r.category.value, []).append(r.passed)
        for category, outcomes in sorted(by_category.items()):
            if len(outcomes) >= 3 and sum(outcomes) / len(outcomes) < 0.5:
                tips.append(
                    f"fails {category} tests ({sum(outcomes)} of {len(outcomes)} passed): "
                    "review its answers with `imperium custody show RESULT_ID`"
                )
        if not can_create_proposals(record):
            tips.append(f"proposals: {eligibility_reason(record)}")
        out[record.agent_id] = tips
    return {"status": "success", "data": {"recommendations": out}, "timestamp": now()}


@router.post("/test/{ai_type}", responses=problems(403, 404, 422))
async def custody_test(
    ai_type: str,
    custody: Custody,
    test_category: Annotated[Category | None, Query()] = None,
) -> dict[str, Any]:
    """Give the agent one test of its tier (in ``test_category`` if given) as a task,
    wait for its answer, grade it, update XP and level."""
    run = await custody.test(ai_type, test_category)
    return {"status": "success", "data": run_dict(run), "timestamp": now()}


@router.get("/test/{ai_type}/status", responses=problems(404))
async def custody_status(
    ai_type: str,
    custody: Custody,
    stored: CustodyRecords,
    history: Annotated[int, Query(ge=0, le=500)] = 20,
) -> dict[str, Any]:
    return await _status_of(custody, stored, ai_type, history)


@router.get("/results/{result_id}", responses=problems(404))
async def custody_result(result_id: str, stored: CustodyRecords) -> dict[str, Any]:
    """One graded test in full: the answer and each check's outcome."""
    from imperium.domain.errors import NotFoundError

    result = await stored.get_custody_result(result_id)
    if result is None:
        raise NotFoundError(f"no custody result with id {result_id}")
    return result_dict(result)


# ---------------------------------------------------------------------- proposals
@proposals_router.post("", status_code=201, responses=problems(403, 404, 409, 422))
async def submit_proposal(
    body: ProposalIn, proposals: Proposals, principal: CurrentPrincipal
) -> dict[str, Any]:
    """Submit a proposal for an agent; refused (403) unless custody deems it eligible,
    (422) when empty, (409) when the same title and change is already live."""
    principal.require_agent(body.agent_id)
    proposal = await proposals.submit(
        body.agent_id, body.title, body.description, body.diff, body.action, body.evidence
    )
    return proposal_dict(proposal)


@proposals_router.get("")
async def list_proposals(
    proposals: Proposals,
    status: ProposalStatus | None = None,
    agent_id: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    found = await proposals.list(status, agent_id, limit)
    return {"proposals": [proposal_dict(p) for p in found], "count": len(found)}


@proposals_router.get("/{proposal_id}", responses=problems(404))
async def get_proposal(proposal_id: str, proposals: Proposals) -> dict[str, Any]:
    return proposal_dict(await proposals.get(proposal_id))


def _decision(to: ProposalStatus) -> Any:
    async def handler(
        proposal_id: str,
        proposals: Proposals,
        principal: CurrentPrincipal,
        body: DecisionIn | None = None,
    ) -> dict[str, Any]:
        body = body or DecisionIn()
        by = body.decided_by
        if principal.key_id is not None:  # a key decides; a name in the body is a note on it
            by = f"key:{principal.key_id}" + (f" ({body.decided_by})" if body.decided_by else "")
        if by is None:
            from imperium.domain.errors import ValidationError

            raise ValidationError('say who decides: {"decided_by": "name"}')
        return proposal_dict(await proposals.decide(proposal_id, to, by, body.note))

    handler.__name__ = f"{to.value}_proposal"
    handler.__doc__ = f"Mark the proposal {to.value} (who and when are recorded)."
    return handler


for _verb, _status in (
    ("approve", ProposalStatus.APPROVED),
    ("reject", ProposalStatus.REJECTED),
    ("apply", ProposalStatus.APPLIED),
):
    proposals_router.post(f"/{{proposal_id}}/{_verb}", responses=problems(404, 409, 422))(
        _decision(_status)
    )
