"""``/api/v1/usage``: tokens and cost recorded on attempts, per agent, task type or UTC
day; ``/api/v1/usage/budgets``: where each agent with a daily budget stands today."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, Query

from imperium.interfaces.api.deps import Usage
from imperium.interfaces.api.schemas import problems
from imperium.interfaces.api.schemas.usage import (
    BudgetList,
    CycleUsageList,
    UsageGroup,
    UsageOut,
)

router = APIRouter(prefix="/api/v1/usage", tags=["usage"])


@router.get("", response_model=UsageOut, responses=problems(422))
async def usage_report(
    usage: Usage,
    by: UsageGroup = "agent",
    days: Annotated[int, Query(ge=1, le=366, description="UTC days back, today included")] = 7,
) -> dict[str, Any]:
    report = await usage.usage(by, days)
    return {
        "by": report.by,
        "since": report.since,
        "until": report.until,
        "rows": [dataclasses.asdict(r) for r in report.rows],
        "total": dataclasses.asdict(report.total),
    }


@router.get("/budgets", response_model=BudgetList)
async def budgets(usage: Usage) -> dict[str, Any]:
    items = [dataclasses.asdict(b) for b in await usage.budgets()]
    return {"day": usage.today(), "items": items}


@router.get("/cycles", response_model=CycleUsageList, responses=problems(422))
async def cycles(
    usage: Usage, limit: Annotated[int, Query(ge=1, le=100, description="Newest cycles")] = 10
) -> dict[str, Any]:
    items = [
        {"cycle_id": c.cycle_id, "since": c.since, "until": c.until, **dataclasses.asdict(c.usage)}
        for c in await usage.by_cycle(limit)
    ]
    return {"items": items}
