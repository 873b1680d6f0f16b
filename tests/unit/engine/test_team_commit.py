"""A team submitted through the engine: its row, with its members' task ids, is written by
the same group commit as its member tasks, so no crash can store one without the other."""

from __future__ import annotations

import asyncio

import pytest

from imperium.adapters.storage.memory import MemoryStore
from imperium.domain.errors import ConflictError
from imperium.domain.models import Task
from imperium.domain.specs import TaskSpec, WorkflowSpec
from imperium.domain.teams import TeamRun
from imperium.ports import TaskSnapshot, WriteBatch
from imperium.services.engine.journal import JournalClosedError

from .conftest import MakeEngine, agent_spec


class RecordingStore(MemoryStore):
    """Keeps every batch written; ``crash`` makes the next ``apply`` die before writing
    anything (as a process killed before its commit)."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[WriteBatch] = []
        self.crash = False

    async def apply(self, batch: WriteBatch, owner: str, lock_expires_at: float) -> None:
        if self.crash:
            raise RuntimeError("killed before the commit")
        await super().apply(batch, owner, lock_expires_at)
        self.batches.append(batch)


def team_workflow(team_id: str) -> tuple[WorkflowSpec, TeamRun]:
    specs = tuple(
        TaskSpec("review", pinned_agent=m, name=f"member {m}", max_attempts=1) for m in "ab"
    )
    run = TeamRun(team_id, "review", ("a", "b"), (), 2, "user", 1.0)
    return WorkflowSpec(specs, workflow_id=team_id), run


async def test_the_team_row_commits_in_the_batch_of_its_members(
    make_engine: MakeEngine,
) -> None:
    store = RecordingStore()
    engine = await make_engine(store=store, agents=[agent_spec("a"), agent_spec("b")])
    workflow, run = team_workflow("team-1")

    _, tasks = await engine.submit_workflow(workflow, run)

    [batch] = [b for b in store.batches if b.teams]
    assert {t.id for t, _ in batch.inserts} >= {t.id for t in tasks}
    assert [t.task_ids for t in batch.teams] == [tuple(t.id for t in tasks)]
    stored = await store.get_team("team-1")
    assert stored is not None
    assert stored.task_ids == tuple(t.id for t in tasks)


async def test_a_crash_before_the_commit_stores_neither_team_nor_members(
    make_engine: MakeEngine,
) -> None:
    store = RecordingStore()
    engine = await make_engine(store=store, agents=[agent_spec("a"), agent_spec("b")])
    store.crash = True
    workflow, run = team_workflow("team-1")

    with pytest.raises(JournalClosedError):
        await asyncio.wait_for(engine.submit_workflow(workflow, run), timeout=10)

    assert await store.get_team("team-1") is None
    assert store.state.tasks == {}


async def test_a_team_id_stored_already_fails_the_whole_batch() -> None:
    store = MemoryStore()
    await store.swap_lock(None, "me", 10.0)
    _, run = team_workflow("team-1")
    await store.insert_team(run)
    task = Task(id="t1", type="review", created_at=1.0)
    batch = WriteBatch(inserts=[(task, TaskSnapshot.of(task))], teams=[run])
    with pytest.raises(ConflictError, match="team id"):
        await store.apply(batch, "me", 20.0)
    assert await store.get_task("t1") is None
