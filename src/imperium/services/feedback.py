"""Rating a task's result: checks, storage, and the router's update.

A rating is stored in ``task_feedback`` and, in the process that dispatches (``imperium
serve``), handed to the router at once (:meth:`Router.rate`). Where no router learns live
(the CLI, a standby server) the rating enters routing at the next learning cycle or start,
which replay stored ratings with the executions they rate.

A team task's result is its members' results: rating a team rates each member task that
ended with a result (the same score and comment, one ``task_feedback`` row per member), so
each member agent's reward on the team's task type takes the rating in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from imperium.domain.errors import ConflictError, NotFoundError
from imperium.domain.feedback import Feedback, clean_comment, rated_attempt, rating_score
from imperium.domain.learning import succeeded
from imperium.domain.models import Execution, Task
from imperium.domain.routing import Router
from imperium.domain.states import TaskState
from imperium.domain.teams import TeamRun, TeamState
from imperium.ports import Clock, FeedbackStore

log = logging.getLogger(__name__)


class FeedbackRecords(FeedbackStore, Protocol):
    """What rating reads and writes: tasks, their attempts and ratings."""

    async def get_task(self, task_id: str) -> Task | None: ...

    async def executions_for(self, task_id: str) -> list[Execution]: ...


class TeamLookup(Protocol):
    async def get_team(self, team_id: str) -> TeamRun | None: ...


class FeedbackService:
    def __init__(
        self,
        store: FeedbackRecords,
        clock: Clock,
        new_id: Callable[[], str],
        router: Router | None = None,
        teams: TeamLookup | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.new_id = new_id
        self.router = router
        """The live router (None where nothing dispatches: ratings wait for a replay)."""
        self.teams = teams
        """Where team tasks are found (None: teams cannot be rated here)."""

    async def rate(
        self,
        task_id: str,
        *,
        score: float | None = None,
        thumbs: str | None = None,
        comment: str | None = None,
        given_by: str,
    ) -> Feedback:
        """Record a rating of the task's result; raises NotFoundError (no such task),
        ConflictError (it has not ended, or has no result) or ValidationError."""
        value = rating_score(score, thumbs)
        text = clean_comment(comment)
        task = await self._task(task_id)
        attempt = await self._rated_attempt(task)
        assert attempt.agent_id is not None
        feedback = Feedback(
            feedback_id=self.new_id(),
            task_id=task.id,
            attempt=attempt.attempt,
            agent_id=attempt.agent_id,
            task_type=attempt.task_type,
            success=succeeded(attempt),
            score=value,
            comment=text,
            given_by=given_by,
            created_at=self.clock.now(),
        )
        await self.store.add_feedback(feedback)
        if self.router is not None:
            moved = self.router.rate(feedback)
            log.info(
                "task rated",
                extra={"task_id": task.id, "agent_id": feedback.agent_id, "moved": moved},
            )
        return feedback

    async def rate_team(
        self,
        team_id: str,
        *,
        score: float | None = None,
        thumbs: str | None = None,
        comment: str | None = None,
        given_by: str,
    ) -> list[Feedback]:
        """Rate a team task's result: each member task that ended with a result gets the
        rating (members without one are left out). NotFoundError (no such team),
        ConflictError (still running, or no member has a result) or ValidationError."""
        rating_score(score, thumbs)  # a bad rating is refused before anything is read
        clean_comment(comment)
        run = await self._team(team_id)
        if run.state is TeamState.RUNNING:
            raise ConflictError(
                f"team {run.team_id} is still running: a team can be rated once every "
                "member task has ended"
            )
        rated = []
        for task_id in run.task_ids:
            task = await self.store.get_task(task_id)
            if task is None or not task.state.is_terminal:
                continue
            if task.state is not TaskState.SUCCEEDED and task.result is None:
                continue
            if rated_attempt(await self.store.executions_for(task_id)) is None:
                continue
            rated.append(
                await self.rate(
                    task_id, score=score, thumbs=thumbs, comment=comment, given_by=given_by
                )
            )
        if not rated:
            raise ConflictError(
                f"no member of team {run.team_id} ended with a result: there is nothing to rate"
            )
        return rated

    async def for_team(self, team_id: str) -> list[Feedback]:
        """The ratings of the team's member tasks, oldest first (NotFoundError: no team)."""
        run = await self._team(team_id)
        ratings = [f for task_id in run.task_ids for f in await self.store.feedback_for(task_id)]
        return sorted(ratings, key=lambda f: (f.created_at, f.feedback_id))

    async def _team(self, team_id: str) -> TeamRun:
        run = await self.teams.get_team(team_id) if self.teams is not None else None
        if run is None:
            raise NotFoundError(f"no team task with id {team_id}; list them with GET /api/v1/teams")
        return run

    async def for_task(self, task_id: str) -> list[Feedback]:
        """The task's ratings, oldest first (NotFoundError when there is no such task)."""
        task = await self._task(task_id)
        return await self.store.feedback_for(task.id)

    async def _task(self, task_id: str) -> Task:
        task = await self.store.get_task(task_id)
        if task is None:
            raise NotFoundError(f"no task with id {task_id}; list tasks with GET /api/v1/tasks")
        return task

    async def _rated_attempt(self, task: Task) -> Execution:
        if not task.state.is_terminal:
            raise ConflictError(
                f"task {task.id} is {task.state}: only a task that has ended with a result "
                "can be rated; wait for it to end"
            )
        if task.state is not TaskState.SUCCEEDED and task.result is None:
            raise ConflictError(
                f"task {task.id} ended {task.state} without a result: there is nothing to rate"
            )
        attempt = rated_attempt(await self.store.executions_for(task.id))
        if attempt is None:
            raise ConflictError(f"task {task.id} has no attempt by an agent to rate")
        return attempt
