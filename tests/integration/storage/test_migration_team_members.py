"""Migration 0010 on SQLite and PostgreSQL: a running team stored before its members' ids
were recorded gets them from its workflow, or ends failed when its members are not all
there; other teams are left alone."""

from __future__ import annotations

import sqlalchemy as sa

from imperium.adapters.storage import _rows
from imperium.adapters.storage.engine import create_engine
from imperium.adapters.storage.migrate import upgrade_database
from imperium.adapters.storage.sql import SqlStore
from imperium.adapters.storage.tables import tasks, team_runs
from imperium.adapters.storage.teams import team_row
from imperium.domain.models import Task
from imperium.domain.teams import TeamRun, TeamState
from imperium.ports import TaskSnapshot


def _team(team_id: str, task_ids: tuple[str, ...] = (), **fields: object) -> TeamRun:
    return TeamRun(team_id, "review", ("a", "b"), task_ids, 2, "user", 1.0, **fields)  # type: ignore[arg-type]


def _member(task_id: str, team_id: str, agent: str) -> Task:
    return Task(id=task_id, type="review", created_at=1.0, pinned_agent=agent, workflow_id=team_id)


async def test_teams_without_member_ids_are_completed_or_ended(database_url: str) -> None:
    await upgrade_database(database_url, "0009")
    members = [_member("t-b", "whole", "b"), _member("t-a", "whole", "a")]
    members.append(_member("t-half", "half", "a"))  # b's task never got stored
    teams = [_team("whole"), _team("half"), _team("listed", ("x", "y"))]
    teams.append(_team("ended", state=TeamState.FAILED, finished_at=2.0))
    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:
            rows = [_rows.task_row(t, TaskSnapshot.of(t)) for t in members]
            await conn.execute(sa.insert(tasks), rows)
            await conn.execute(sa.insert(team_runs), [team_row(t) for t in teams])
    finally:
        await engine.dispose()

    await upgrade_database(database_url)

    store = await SqlStore.connect(database_url)
    try:
        whole, half = await store.get_team("whole"), await store.get_team("half")
        listed, ended = await store.get_team("listed"), await store.get_team("ended")
    finally:
        await store.close()
    assert whole is not None
    assert (whole.state, whole.task_ids) == (TeamState.RUNNING, ("t-a", "t-b"))
    assert half is not None
    assert half.state is TeamState.FAILED
    assert half.member_states == {"a": "missing", "b": "missing"}
    assert "never stored" in str(half.results["b"])
    assert half.finished_at is not None
    assert half.task_ids == ()
    assert listed is not None
    assert (listed.state, listed.task_ids) == (TeamState.RUNNING, ("x", "y"))
    assert ended is not None
    assert (ended.state, ended.task_ids) == (TeamState.FAILED, ())
