"""/api/v1/teams: give one task to a team of agents (domain/teams.py), follow it, and see
which combinations of agents the router has learned to trust."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator

from imperium.domain.errors import ValidationError
from imperium.domain.specs import MAX_ATTEMPTS_LIMIT
from imperium.domain.states import PriorityLevel
from imperium.domain.teams import MAX_SIZE, MIN_SIZE, TeamRun, TeamState
from imperium.interfaces.api.auth import CurrentPrincipal
from imperium.interfaces.api.deps import Ratings, Scheduler, Teams
from imperium.interfaces.api.schemas import problems
from imperium.interfaces.api.schemas.feedback import FeedbackIn, FeedbackList
from imperium.interfaces.records import feedback_dict, team_dict, team_estimate_dict
from imperium.interfaces.specs import parse_deadline, priority_value
from imperium.services.engine import Engine
from imperium.services.teams import TeamRequest, TeamService

router = APIRouter(prefix="/api/v1/teams", tags=["teams"])

MAX_WAIT_SECONDS = 60.0


class TeamIn(BaseModel):
    """A task for a team: ``size`` agents chosen by Imperium, or the given ``members``."""

    model_config = ConfigDict(extra="forbid")

    type: str = Field(min_length=1, max_length=200)
    payload: Any = None
    size: StrictInt | None = Field(default=None, ge=MIN_SIZE, le=MAX_SIZE)
    members: list[str] = Field(default_factory=list, max_length=MAX_SIZE)
    quorum: StrictInt | None = Field(
        default=None, ge=1, le=MAX_SIZE, description="Members that must succeed (all)."
    )
    capabilities: list[str] = Field(default_factory=list, max_length=1000)
    priority: str = "normal"
    complexity: float = Field(default=1.0, ge=0, allow_inf_nan=False)
    deadline: float | str | None = None
    timeout: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    max_attempts: StrictInt = Field(default=3, ge=1, le=MAX_ATTEMPTS_LIMIT)

    @field_validator("priority")
    @classmethod
    def _known_priority(cls, value: str) -> str:
        return priority_value(value)

    def to_request(self, now: float) -> TeamRequest:
        try:
            deadline = None if self.deadline is None else parse_deadline(self.deadline, now)
        except ValueError as exc:
            raise ValidationError(f"the team task is invalid: {exc}") from None
        return TeamRequest(
            type=self.type,
            payload=self.payload,
            size=self.size,
            members=tuple(self.members),
            quorum=self.quorum,
            capabilities=tuple(self.capabilities),
            priority=PriorityLevel(self.priority),
            complexity=self.complexity,
            timeout=self.timeout,
            max_attempts=self.max_attempts,
            deadline=deadline,
        )


Wait = Annotated[
    float | None,
    Query(
        ge=0,
        le=MAX_WAIT_SECONDS,
        allow_inf_nan=False,
        description="Wait up to this many seconds for the team to end; if it has not, the "
        "answer shows how far its members are.",
    ),
]


async def _ended_within(
    teams: TeamService, engine: Engine, run: TeamRun, seconds: float
) -> TeamRun:
    members = (engine.wait_for(task_id) for task_id in run.task_ids)
    try:
        await asyncio.wait_for(asyncio.gather(*members), seconds)
    except TimeoutError:
        return await teams.get(run.team_id)
    return await teams.settle_one(run.team_id)  # or the routine has: recorded once


@router.post("", status_code=201, responses=problems(404, 422, 503))
async def submit_team(
    body: TeamIn, teams: Teams, engine: Scheduler, wait: Wait = None
) -> dict[str, Any]:
    """Give the task to a team: one member task per agent (same payload), pinned to it.
    The team succeeds when ``quorum`` members did (all, by default)."""
    run = await teams.submit(body.to_request(engine.clock.now()))
    if wait:
        run = await _ended_within(teams, engine, run, wait)
    return team_dict(run)


@router.get("", responses=problems(422))
async def list_teams(
    teams: Teams,
    state: TeamState | None = None,
    type: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> dict[str, Any]:
    """Team tasks, newest first."""
    runs = await teams.teams.list_teams(state, type, limit, offset)
    return {"items": [team_dict(r) for r in runs], "limit": limit, "offset": offset}


@router.get("/combinations")
async def team_combinations(
    teams: Teams, type: Annotated[str | None, Query(max_length=200)] = None
) -> dict[str, Any]:
    """Every combination of agents with recorded team outcomes, best first (by the lower
    bound of its observed success rate): the seed's "best agent combinations"."""
    known = teams.combinations(type)
    return {"combinations": [team_estimate_dict(kind, e) for kind, e in known]}


@router.get("/recommend", responses=problems(422))
async def recommend_teams(
    teams: Teams,
    type: Annotated[str, Query(min_length=1, max_length=200)],
    size: Annotated[int, Query(ge=MIN_SIZE, le=MAX_SIZE)],
    quorum: Annotated[int | None, Query(ge=1, le=MAX_SIZE)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 5,
) -> dict[str, Any]:
    """The teams of ``size`` most likely to succeed at a task of ``type`` (what
    ``recommend`` mode shows; nothing is submitted): each with its expected success, the
    part its members' own records give, and the team outcomes it rests on."""
    ranked = await teams.recommend(type, size, quorum)
    return {
        "type": type,
        "size": size,
        "quorum": quorum if quorum is not None else size,
        "teams": [team_estimate_dict(type, e) for e in ranked[:limit]],
        "combinations_considered": len(ranked),
    }


@router.get("/{team_id}", responses=problems(404))
async def get_team(team_id: str, teams: Teams) -> dict[str, Any]:
    return team_dict(await teams.get(team_id))


@router.post("/{team_id}/cancel", responses=problems(404, 409))
async def cancel_team(team_id: str, teams: Teams, engine: Scheduler) -> dict[str, Any]:
    """Cancel the members that have not ended (a running attempt is stopped); the team
    ends at once, failed unless the members that had succeeded make its quorum."""
    await teams.cancel(team_id, engine.cancel)
    return team_dict(await teams.settle_one(team_id))


@router.post(
    "/{team_id}/feedback",
    status_code=201,
    response_model=FeedbackList,
    responses=problems(404, 409, 422),
)
async def rate_team(
    team_id: str, body: FeedbackIn, ratings: Ratings, principal: CurrentPrincipal
) -> dict[str, Any]:
    """Rate a team task's result once it has ended: each member task that ended with a
    result gets the rating (one per member, listed), blended with that member's success
    in what the router learns about its agent."""
    given_by = f"api key {principal.key_id}" if principal.key_id else "api (no keys)"
    rated = await ratings.rate_team(
        team_id, score=body.score, thumbs=body.thumbs, comment=body.comment, given_by=given_by
    )
    return {"items": [feedback_dict(f) for f in rated]}


@router.get("/{team_id}/feedback", response_model=FeedbackList, responses=problems(404))
async def team_feedback(team_id: str, ratings: Ratings) -> dict[str, Any]:
    """The ratings of the team's member tasks, oldest first."""
    return {"items": [feedback_dict(f) for f in await ratings.for_team(team_id)]}
