"""TeamService on the in-memory stores: a team and its member tasks are stored in one unit
of work (whole or not at all); a team is recorded once, when its last member has ended,
with the quorum's verdict, and the router learns from it exactly once; a member task that
disappeared ends its team; a recorded team teaches a restarted router.
(Against SQLite and PostgreSQL through the API: tests/integration/api/test_teams_api.py;
the unit of work on SQL: tests/integration/storage/test_unit_of_work.py.)"""

from __future__ import annotations

import asyncio
import random

import pytest

from imperium.adapters.storage.memory import MemoryStore, MemoryTeamStore
from imperium.domain.errors import ConflictError, NotFoundError, ValidationError
from imperium.domain.learning import RouterMode
from imperium.domain.models import AgentSpec, Task
from imperium.domain.routing import Router, RouterConfig
from imperium.domain.specs import WorkflowSpec
from imperium.domain.states import TaskState
from imperium.domain.teams import TeamRouter, TeamRun, TeamState
from imperium.services.submission import SubmissionService
from imperium.services.teams import TeamRequest, TeamService


class Clock:
    def __init__(self) -> None:
        self.t = 1_000.0

    def now(self) -> float:
        self.t += 1.0
        return self.t


class Ids:
    def __init__(self) -> None:
        self.n = 0

    def __call__(self) -> str:
        self.n += 1
        return f"id-{self.n}"


async def make(
    *agents: str, mode: RouterMode = RouterMode.AUTONOMOUS, loads: dict[str, float] | None = None
) -> tuple[TeamService, MemoryStore, MemoryTeamStore]:
    store, clock = MemoryStore(), Clock()
    teams = MemoryTeamStore(store.state)  # its own area over the same database
    for agent in agents:
        await store.insert_agent(
            AgentSpec(id=agent, type="remote", capabilities=frozenset({"review"}))
        )
    submissions = SubmissionService(store, clock, Ids(), teams, store.unit_of_work)
    router = TeamRouter(Router(random.Random(5), RouterConfig(mode=mode)))
    service = TeamService(
        teams, store, submissions.submit_workflow, router, clock,
        loads=(lambda: loads) if loads is not None else None,
    )  # fmt: skip
    return service, store, teams


def end(store: MemoryStore, task_id: str, state: TaskState, result: object = None) -> None:
    task = store.state.tasks[task_id]
    task.state, task.result, task.finished_at = state, result, 2_000.0
    if state is not TaskState.SUCCEEDED:
        task.error_kind, task.error_message = "boom", "it broke"


async def test_a_team_is_recorded_once_when_its_last_member_ends() -> None:
    service, store, _ = await make("a", "b", "c")
    run = await service.submit(TeamRequest(type="review", size=3, quorum=2, payload=[1]))
    assert run.members == ("a", "b", "c")
    assert [store.state.tasks[t].pinned_agent for t in run.task_ids] == ["a", "b", "c"]
    assert {store.state.tasks[t].workflow_id for t in run.task_ids} == {run.team_id}

    end(store, run.task_ids[0], TaskState.SUCCEEDED, "A")
    end(store, run.task_ids[1], TaskState.DEAD)
    assert await service.settle() == 0  # c still runs
    shown = await service.get(run.team_id)
    assert shown.state is TeamState.RUNNING
    assert shown.member_states == {"a": "succeeded", "b": "dead", "c": "submitted"}

    end(store, run.task_ids[2], TaskState.SUCCEEDED, "C")
    assert await service.settle() == 1
    assert await service.settle() == 0  # recorded once
    done = await service.get(run.team_id)
    assert done.state is TeamState.SUCCEEDED  # 2 of 3, quorum 2
    assert done.results == {"a": "A", "b": "dead (boom: it broke)", "c": "C"}
    assert done.finished_at == 2_000.0
    assert service.router.estimate("review", ("a", "b", "c"), quorum=2).samples == 1


async def test_a_team_another_process_recorded_is_not_learned_twice() -> None:
    service, store, teams = await make("a", "b")
    run = await service.submit(TeamRequest(type="review", members=("b", "a")))
    for task_id in run.task_ids:
        end(store, task_id, TaskState.FAILED)
    other = TeamService(teams, store, service.submit_workflow, TeamRouter(Router(random.Random(1))),
                        Clock())  # fmt: skip
    assert await other.settle() == 1
    assert await service.settle() == 0
    assert service.router.estimate("review", ("a", "b")).samples == 0
    assert other.router.estimate("review", ("a", "b")).samples == 1
    assert (await service.get(run.team_id)).state is TeamState.FAILED
    # a restarted server learns it from storage
    assert await service.warm_up() == 1
    assert service.router.estimate("review", ("a", "b")).samples == 1


async def test_a_member_task_that_is_gone_ends_its_team() -> None:
    service, store, _ = await make("a", "b")
    run = await service.submit(TeamRequest(type="review", size=2))
    del store.state.tasks[run.task_ids[1]]
    end(store, run.task_ids[0], TaskState.SUCCEEDED)
    assert await service.settle() == 1
    done = await service.get(run.team_id)
    assert done.state is TeamState.FAILED
    assert done.member_states[run.members[1]] == "missing"


async def test_without_the_router_dispatching_the_least_loaded_agents_form_the_team() -> None:
    service, _, _ = await make(
        "a", "b", "c", "d", mode=RouterMode.OBSERVE, loads={"a": 0.5, "b": 0.0, "c": 1.0}
    )
    run = await service.submit(TeamRequest(type="review", size=2))
    assert (run.members, run.chosen_by) == (("b", "d"), "least_loaded")


async def test_requests_are_checked_before_anything_is_stored() -> None:
    service, store, teams = await make("a", "b")
    with pytest.raises(ValidationError, match="a size"):
        await service.submit(TeamRequest(type="review"))
    with pytest.raises(NotFoundError, match="ghost"):
        await service.submit(TeamRequest(type="review", members=("a", "ghost")))
    with pytest.raises(ValidationError, match="lacks write"):
        await service.submit(TeamRequest(type="write", members=("a", "b")))
    with pytest.raises(ValidationError, match="needs 3"):
        await service.submit(TeamRequest(type="review", size=3))
    assert await teams.list_teams() == []
    assert store.state.tasks == {}


async def test_the_custody_level_gate_applies_to_chosen_members_not_named_ones() -> None:
    service, _, _ = await make("senior1", "senior2", "junior")
    service.qualified = lambda agent_id, task_type: agent_id.startswith("senior")
    for _ in range(10):
        run = await service.submit(TeamRequest(type="review", size=2))
        assert run.members == ("senior1", "senior2")
    with pytest.raises(ValidationError, match="junior can take it but are below the custody"):
        await service.submit(TeamRequest(type="review", size=3))
    named = await service.submit(TeamRequest(type="review", members=("junior", "senior1")))
    assert named.members == ("junior", "senior1")  # named, as a pinned task, is not gated


async def test_settling_reaches_every_running_team_however_many(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("imperium.services.teams.SETTLE_BATCH", 2)
    service, store, _ = await make("a", "b")
    runs = [await service.submit(TeamRequest(type="review", size=2)) for _ in range(5)]
    for task_id in runs[0].task_ids + runs[4].task_ids:  # the oldest and the newest end
        end(store, task_id, TaskState.SUCCEEDED)
    assert await service.settle() == 2
    states = [(await service.get(r.team_id)).state for r in runs]
    assert states == [TeamState.SUCCEEDED, *[TeamState.RUNNING] * 3, TeamState.SUCCEEDED]


async def test_agents_without_a_connected_worker_are_not_chosen() -> None:
    service, _, _ = await make("a", "b", "far")
    service.accepting = lambda agent_id: agent_id != "far"
    for _ in range(10):
        assert (await service.submit(TeamRequest(type="review", size=2))).members == ("a", "b")
    with pytest.raises(ValidationError, match="far can take it but no worker of theirs"):
        await service.submit(TeamRequest(type="review", size=3))
    named = await service.submit(TeamRequest(type="review", members=("a", "far")))
    assert named.members == ("a", "far")  # named: its member task waits for a worker


async def test_cancelling_a_team_cancels_its_open_members_and_it_ends() -> None:
    service, store, _ = await make("a", "b", "c")
    run = await service.submit(TeamRequest(type="review", size=3, quorum=1))
    end(store, run.task_ids[0], TaskState.SUCCEEDED, "done")
    cancelled: list[str] = []

    async def cancel_task(task_id: str) -> Task:
        cancelled.append(task_id)
        store.state.tasks[task_id].state = TaskState.CANCELLED
        return store.state.tasks[task_id]

    await service.cancel(run.team_id, cancel_task)
    assert cancelled == list(run.task_ids[1:])  # not the member that had ended
    done = await service.settle_one(run.team_id)
    assert done.state is TeamState.SUCCEEDED  # a quorum of 1: the first member made it
    assert done.member_states == {"a": "succeeded", "b": "cancelled", "c": "cancelled"}
    with pytest.raises(ConflictError, match="already ended"):
        await service.cancel(run.team_id, cancel_task)
    with pytest.raises(NotFoundError):
        await service.cancel("nope", cancel_task)


async def test_a_team_and_its_members_are_stored_in_one_write() -> None:
    service, store, teams = await make("a", "b")
    writes: list[str] = []
    submit = service.submit_workflow

    async def watched(workflow: WorkflowSpec, team: TeamRun) -> tuple[str, list[Task]]:
        writes.append("team and members")
        assert await teams.get_team(team.team_id) is None  # nothing stored before
        return await submit(workflow, team)

    service.submit_workflow = watched
    run = await service.submit(TeamRequest(type="review", size=2))
    assert writes == ["team and members"]
    assert run.created_at <= min(store.state.tasks[t].created_at for t in run.task_ids)
    assert {store.state.tasks[t].workflow_id for t in run.task_ids} == {run.team_id}
    stored = await teams.get_team(run.team_id)
    assert stored is not None
    assert stored.task_ids == run.task_ids
    assert (await service.get(run.team_id)).member_states == dict.fromkeys(("a", "b"), "submitted")


async def test_a_member_that_cannot_be_stored_leaves_no_team() -> None:
    service, store, teams = await make("a", "b")
    await store.insert_submitted([Task(id="id-2", type="other", created_at=1.0)], [])
    with pytest.raises(ConflictError, match="already exists"):
        await service.submit(TeamRequest(type="review", size=2))  # its 2nd member is id-2
    assert await teams.list_teams() == []
    assert list(store.state.tasks) == ["id-2"]


async def test_a_team_row_that_cannot_be_stored_leaves_no_members() -> None:
    service, store, teams = await make("a", "b")
    service.new_id = lambda: "team-1"
    await teams.insert_team(TeamRun("team-1", "review", ("a", "b"), ("x", "y"), 2, "user", 1.0))
    with pytest.raises(ConflictError, match="team-1"):
        await service.submit(TeamRequest(type="review", size=2))
    assert store.state.tasks == {}  # the members written first were rolled back
    assert [t.team_id for t in await teams.list_teams()] == ["team-1"]


async def test_a_crash_before_the_unit_of_work_commits_stores_neither() -> None:
    """The process stops (here: the task is cancelled) after the members were planned and
    written into the unit of work, before it commits: neither the team nor a member stays."""
    service, store, teams = await make("a", "b")

    async def crash(run: TeamRun) -> None:
        raise asyncio.CancelledError

    teams.insert_team = crash  # type: ignore[method-assign]
    with pytest.raises(asyncio.CancelledError):
        await service.submit(TeamRequest(type="review", size=2))
    assert store.state.tasks == {}
    assert store.state.teams == {}
    assert store.state.events == []
    with pytest.raises(ValidationError, match="timeout"):  # refused before anything is stored
        await service.submit(TeamRequest(type="review", size=2, timeout=-1))
