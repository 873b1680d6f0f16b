"""Team tasks (domain/teams.py): give one task to k agents at once, settle the team when
its members have ended, and teach the router which combinations work.

A team is submitted as a workflow of member tasks, one pinned to each member, so the
engine runs, retries and recovers each member like any task and ``imperium tasks list
--workflow TEAM_ID`` lists them. The team's row, with its members' task ids, is written
in the same transaction as the member tasks (the scheduler's group commit, or one unit of
work from a process without the scheduler): a team is stored whole or not at all.
The scheduler's process settles teams (a routine, every second): when every member has
ended, the outcome is recorded (compare-and-set, once) and the router learns from it.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from imperium.domain.errors import ConflictError, NotFoundError, ValidationError
from imperium.domain.models import JSON, AgentSpec, Task
from imperium.domain.specs import TaskSpec, WorkflowSpec, validate_task_spec
from imperium.domain.states import AgentStatus, PriorityLevel, TaskState
from imperium.domain.teams import (
    TeamEstimate,
    TeamRouter,
    TeamRun,
    TeamState,
    check_team_request,
    team_state,
)
from imperium.ports import Clock, TeamStore

SubmitWorkflow = Callable[[WorkflowSpec, TeamRun], Awaitable[tuple[str, list[Task]]]]
"""Stores a workflow and the team's row (its ``task_ids`` filled in) in one transaction."""
CancelTask = Callable[[str], Awaitable[Task]]
SETTLE_BATCH = 500


class TaskReader(Protocol):
    async def list_agents(self) -> list[AgentSpec]: ...

    async def task_states(self, ids: Sequence[str]) -> dict[str, TaskState]: ...

    async def get_task(self, task_id: str) -> Task | None: ...


@dataclass(frozen=True, slots=True)
class TeamRequest:
    """A task for a team: ``size`` agents chosen by Imperium, or the given ``members``."""

    type: str
    payload: JSON = None
    size: int | None = None
    members: tuple[str, ...] = ()
    quorum: int | None = None
    capabilities: tuple[str, ...] = ()
    priority: PriorityLevel = PriorityLevel.NORMAL
    complexity: float = 1.0
    timeout: float | None = None
    max_attempts: int = 3
    deadline: float | None = None


class TeamService:
    def __init__(
        self,
        teams: TeamStore,
        tasks: TaskReader,
        submit_workflow: SubmitWorkflow,
        router: TeamRouter,
        clock: Clock,
        *,
        loads: Callable[[], Mapping[str, float]] | None = None,
        qualified: Callable[[str, str], bool] | None = None,
        accepting: Callable[[str], bool] | None = None,
        new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
    ) -> None:
        self.new_id = new_id
        self.teams = teams
        self.tasks = tasks
        self.submit_workflow = submit_workflow
        self.router = router
        self.clock = clock
        self.loads = loads
        """Each agent's load (0 = idle), when known: who takes a team while the router
        does not dispatch (modes observe and recommend)."""
        self.qualified = qualified
        """(agent id, task type) -> whether its custody level allows the type (the level
        gate, IMPERIUM_CUSTODY_MIN_LEVELS); members given by name are exempt, as a task
        pinned to an agent is."""
        self.accepting = accepting
        """agent id -> whether it takes work now (a remote agent with a worker connected);
        known in the scheduler's process. A chosen team never includes an agent that would
        leave its member task waiting; a member given by name may be one (it waits)."""

    # ------------------------------------------------------------------ submitting
    async def submit(self, request: TeamRequest) -> TeamRun:
        agents = {a.id: a for a in await self.tasks.list_agents()}
        needs = frozenset(request.capabilities or (request.type,))
        if request.members:
            members, quorum = self._given(request, agents, needs), request.quorum
            quorum = _checked(len(members), quorum, members)
            chosen_by = "user"
        else:
            if request.size is None:
                raise ValidationError("a team task needs a size (2 to 8) or its members")
            able, quorum = self._able(
                request.type, needs, agents.values(), request.size, request.quorum
            )
            members, chosen_by = self._choose(request.type, able, request.size, quorum)
        specs = tuple(
            TaskSpec(
                type=request.type,
                payload=request.payload,
                capabilities=request.capabilities,
                priority=request.priority,
                complexity=request.complexity,
                deadline=request.deadline,
                timeout=request.timeout,
                max_attempts=request.max_attempts,
                pinned_agent=member,
                name=f"member {member}",
            )
            for member in members
        )
        for spec in specs:  # what the user can get wrong is refused before anything is stored
            validate_task_spec(spec)
        run = TeamRun(
            team_id=self.new_id(),
            task_type=request.type,
            members=members,
            task_ids=(),  # filled in when the members are planned, in the same write
            quorum=quorum,
            chosen_by=chosen_by,
            created_at=self.clock.now(),
        )
        workflow = WorkflowSpec(specs, name=f"team: {request.type}", workflow_id=run.team_id)
        _, tasks = await self.submit_workflow(workflow, run)
        return replace(
            run,
            task_ids=tuple(t.id for t in tasks),
            member_states={m: t.state.value for m, t in zip(members, tasks, strict=True)},
        )

    def _able(
        self,
        task_type: str,
        needs: frozenset[str],
        agents: Iterable[AgentSpec],
        size: int,
        quorum: int | None,
    ) -> tuple[list[str], int]:
        """The agents a chosen team may include, and the quorum; a ValidationError saying
        why when they are too few (naming the capable agents that may not be chosen)."""
        capable = sorted(
            a.id for a in agents if a.status is AgentStatus.ACTIVE and needs <= a.capabilities
        )
        offline = [a for a in capable if self.accepting is not None and not self.accepting(a)]
        gate = self.qualified
        below = [a for a in capable if gate is not None and not gate(a, task_type)]
        able = [a for a in capable if a not in offline and a not in below]
        why = []
        if offline:
            why.append(f"{', '.join(offline)} can take it but no worker of theirs is connected")
        if below:
            why.append(
                f"{', '.join(below)} can take it but are below the custody level {task_type} "
                "requires (IMPERIUM_CUSTODY_MIN_LEVELS)"
            )
        try:
            return able, _checked(size, quorum, able)
        except ValidationError as exc:
            if why and len(able) < size:
                raise ValidationError(f"{exc}; {'; '.join(why)}") from None
            raise

    def _given(
        self, request: TeamRequest, agents: Mapping[str, AgentSpec], needs: frozenset[str]
    ) -> tuple[str, ...]:
        members = tuple(sorted(set(request.members)))
        if len(members) != len(request.members):
            raise ValidationError("a team's members must be different agents")
        if request.size is not None and request.size != len(members):
            raise ValidationError(
                f"size {request.size} but {len(members)} members given: give one or the other"
            )
        for member in members:
            spec = agents.get(member)
            if spec is None:
                raise NotFoundError(f"no agent with id {member}; see `imperium agents list`")
            if spec.status is not AgentStatus.ACTIVE:
                raise ValidationError(f"agent {member} is {spec.status}; a member must be active")
            missing = needs - spec.capabilities
            if missing:
                raise ValidationError(
                    f"agent {member} cannot take {request.type}: it lacks "
                    f"{', '.join(sorted(missing))}"
                )
        return members

    def _choose(
        self, task_type: str, able: list[str], size: int, quorum: int
    ) -> tuple[tuple[str, ...], str]:
        if self.router.router.dispatching:
            return self.router.choose(task_type, able, size, quorum), "router"
        loads = self.loads() if self.loads is not None else {}
        least = sorted(able, key=lambda a: (loads.get(a, 0.0), a))[:size]
        return tuple(sorted(least)), "least_loaded"

    # ------------------------------------------------------------------ settling
    async def settle(self) -> int:
        """Record the end of every running team whose members have all ended; returns how
        many were recorded here (a team another process recorded first is not counted)."""
        settled = 0
        after: tuple[float, str] | None = None
        while batch := await self.teams.running_teams(after, SETTLE_BATCH):  # oldest first
            for run in batch:
                settled += await self._settle(run)
            after = (batch[-1].created_at, batch[-1].team_id)
        return settled

    async def settle_one(self, team_id: str) -> TeamRun:
        """Record this team's end if its members have all ended; the team."""
        run = await load_team(self.teams, self.tasks, team_id)
        if run.state is TeamState.RUNNING:
            await self._settle(run)
        return await load_team(self.teams, self.tasks, team_id)

    async def _settle(self, run: TeamRun) -> int:
        states = await self.tasks.task_states(list(run.task_ids))
        known = [states.get(i) for i in run.task_ids]
        if any(s is None for s in known):  # a member task is gone: end the team
            ended: TeamState | None = TeamState.FAILED
        else:
            ended = team_state((s for s in known if s is not None), run.quorum)
        if ended is None:
            return 0
        finished = await self._finished(run, ended)
        if not await self.teams.finish_team(finished):
            return 0  # recorded meanwhile (by ``?wait`` or another settle)
        self.router.observe(finished)
        return 1

    async def cancel(self, team_id: str, cancel_task: CancelTask) -> TeamRun:
        return await cancel_team(self.teams, self.tasks, team_id, cancel_task)

    async def _finished(self, run: TeamRun, state: TeamState) -> TeamRun:
        member_states: dict[str, str] = {}
        results: dict[str, object] = {}
        ends: list[float] = []
        for member, task_id in zip(run.members, run.task_ids, strict=True):
            task = await self.tasks.get_task(task_id)
            if task is None:
                member_states[member] = "missing"
                results[member] = f"its task {task_id} is no longer stored"
                continue
            member_states[member] = task.state.value
            if task.finished_at is not None:
                ends.append(task.finished_at)
            if task.state is TaskState.SUCCEEDED:
                results[member] = task.result
            else:
                why = ": ".join(p for p in (task.error_kind, task.error_message) if p)
                results[member] = f"{task.state.value}" + (f" ({why})" if why else "")
        return replace(
            run,
            state=state,
            finished_at=max(ends, default=self.clock.now()),
            member_states=member_states,
            results=results,
        )

    async def warm_up(self, limit: int = 10_000) -> int:
        """Replay recorded team outcomes (oldest first) into the router; returns how many."""
        ended = [
            r for r in await self.teams.list_teams(limit=limit) if r.state is not TeamState.RUNNING
        ]
        self.router.observe_all(reversed(ended))
        return len(ended)

    # ------------------------------------------------------------------ reading
    async def get(self, team_id: str) -> TeamRun:
        return await load_team(self.teams, self.tasks, team_id)

    async def recommend(
        self,
        task_type: str,
        size: int,
        quorum: int | None = None,
        capabilities: tuple[str, ...] = (),
    ) -> list[TeamEstimate]:
        """The teams Imperium would consider for such a task, most likely to succeed first
        (the agents a chosen team may include: see ``submit``)."""
        needs = frozenset(capabilities or (task_type,))
        able, checked = self._able(task_type, needs, await self.tasks.list_agents(), size, quorum)
        return self.router.rank(task_type, able, size, checked)

    def combinations(self, task_type: str | None = None) -> list[tuple[str, TeamEstimate]]:
        """What the router learned about combinations, best first."""
        return self.router.known(task_type)


async def load_team(teams: TeamStore, tasks: TaskReader, team_id: str) -> TeamRun:
    """The team task; while it runs, with its members' current states."""
    run = await teams.get_team(team_id)
    if run is None:
        raise NotFoundError(f"no team task with id {team_id}; see `imperium teams list`")
    if run.state is TeamState.RUNNING:
        states = await tasks.task_states(list(run.task_ids))
        run = replace(
            run,
            member_states={
                m: states[t].value if t in states else "missing"
                for m, t in zip(run.members, run.task_ids, strict=True)
            },
        )
    return run


async def cancel_team(
    teams: TeamStore, tasks: TaskReader, team_id: str, cancel_task: CancelTask
) -> TeamRun:
    """Cancel the members that have not ended; the team then ends (failed, unless the
    members that had already succeeded make its quorum). A ConflictError if it has."""
    run = await load_team(teams, tasks, team_id)
    if run.state is not TeamState.RUNNING:
        raise ConflictError(f"team {team_id} has already ended ({run.state.value})")
    states = await tasks.task_states(list(run.task_ids))
    for task_id in run.task_ids:
        state = states.get(task_id)
        if state is not None and not state.is_terminal:
            with contextlib.suppress(ConflictError):  # it ended just now
                await cancel_task(task_id)
    return run


def _checked(size: int, quorum: int | None, able: Sequence[str]) -> int:
    try:
        return check_team_request(size, quorum, able)
    except ValueError as exc:
        raise ValidationError(str(exc)) from exc
