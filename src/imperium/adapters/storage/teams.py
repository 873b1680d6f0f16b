"""Where team tasks are kept: ``SqlTeamStore`` (the ``team_runs`` table) and
``MemoryTeamStore`` for tests of the core. Both implement the ``TeamStore`` port."""

from __future__ import annotations

import dataclasses
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from imperium.adapters.storage.tables import team_runs
from imperium.domain.teams import TeamRun, TeamState


class SqlTeamStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def insert_team(self, run: TeamRun) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(sa.insert(team_runs), [_row(run)])

    async def get_team(self, team_id: str) -> TeamRun | None:
        async with self._engine.connect() as conn:
            query = sa.select(team_runs).where(team_runs.c.team_id == team_id)
            row = (await conn.execute(query)).first()
        return _run(row) if row is not None else None

    async def list_teams(
        self,
        state: TeamState | None = None,
        task_type: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[TeamRun]:
        t = team_runs
        query = sa.select(t).order_by(t.c.created_at.desc(), t.c.team_id.desc())
        if state is not None:
            query = query.where(t.c.state == state.value)
        if task_type is not None:
            query = query.where(t.c.task_type == task_type)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query.limit(limit).offset(offset))).all()
        return [_run(row) for row in rows]

    async def running_teams(
        self, after: tuple[float, str] | None = None, limit: int = 500
    ) -> list[TeamRun]:
        t = team_runs
        query = (
            sa.select(t)
            .where(t.c.state == TeamState.RUNNING.value)
            .order_by(t.c.created_at, t.c.team_id)
            .limit(limit)
        )
        if after is not None:
            created, team_id = after
            query = query.where(
                sa.or_(
                    t.c.created_at > created,
                    sa.and_(t.c.created_at == created, t.c.team_id > team_id),
                )
            )
        async with self._engine.connect() as conn:
            return [_run(row) for row in (await conn.execute(query)).all()]

    async def set_team_tasks(self, team_id: str, task_ids: tuple[str, ...]) -> None:
        update = (
            sa.update(team_runs)
            .where(team_runs.c.team_id == team_id)
            .values(task_ids=list(task_ids))
        )
        async with self._engine.begin() as conn:
            await conn.execute(update)

    async def finish_team(self, run: TeamRun) -> bool:
        """Store the ended ``run`` if the stored one is still running (a compare-and-set:
        two processes settling the same team cannot both record it)."""
        t = team_runs
        update = (
            sa.update(t)
            .where(t.c.team_id == run.team_id, t.c.state == TeamState.RUNNING.value)
            .values(
                state=run.state.value,
                finished_at=run.finished_at,
                member_states=dict(run.member_states),
                results=dict(run.results),
            )
        )
        async with self._engine.begin() as conn:
            return (await conn.execute(update)).rowcount == 1


def _row(run: TeamRun) -> dict[str, Any]:
    return {
        "team_id": run.team_id,
        "task_type": run.task_type,
        "members": list(run.members),
        "task_ids": list(run.task_ids),
        "quorum": run.quorum,
        "chosen_by": run.chosen_by,
        "state": run.state.value,
        "created_at": float(run.created_at),
        "finished_at": None if run.finished_at is None else float(run.finished_at),
        "member_states": dict(run.member_states),
        "results": dict(run.results),
    }


def _run(row: Any) -> TeamRun:
    return TeamRun(
        team_id=row.team_id,
        task_type=row.task_type,
        members=tuple(row.members),
        task_ids=tuple(row.task_ids),
        quorum=row.quorum,
        chosen_by=row.chosen_by,
        created_at=row.created_at,
        state=TeamState(row.state),
        finished_at=row.finished_at,
        member_states=dict(row.member_states),
        results=dict(row.results),
    )


class MemoryTeamStore:
    def __init__(self) -> None:
        self._runs: dict[str, TeamRun] = {}

    async def insert_team(self, run: TeamRun) -> None:
        if run.team_id in self._runs:
            raise ValueError(f"team {run.team_id} already exists")
        self._runs[run.team_id] = run

    async def get_team(self, team_id: str) -> TeamRun | None:
        return self._runs.get(team_id)

    async def list_teams(
        self,
        state: TeamState | None = None,
        task_type: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[TeamRun]:
        found = [
            r
            for r in self._runs.values()
            if (state is None or r.state is state)
            and (task_type is None or r.task_type == task_type)
        ]
        found.sort(key=lambda r: (r.created_at, r.team_id), reverse=True)
        return found[offset : offset + limit]

    async def running_teams(
        self, after: tuple[float, str] | None = None, limit: int = 500
    ) -> list[TeamRun]:
        found = sorted(
            (r for r in self._runs.values() if r.state is TeamState.RUNNING),
            key=lambda r: (r.created_at, r.team_id),
        )
        if after is not None:
            found = [r for r in found if (r.created_at, r.team_id) > after]
        return found[:limit]

    async def set_team_tasks(self, team_id: str, task_ids: tuple[str, ...]) -> None:
        stored = self._runs.get(team_id)
        if stored is not None:
            self._runs[team_id] = dataclasses.replace(stored, task_ids=task_ids)

    async def finish_team(self, run: TeamRun) -> bool:
        stored = self._runs.get(run.team_id)
        if stored is None or stored.state is not TeamState.RUNNING:
            return False
        self._runs[run.team_id] = dataclasses.replace(
            stored,
            state=run.state,
            finished_at=run.finished_at,
            member_states=dict(run.member_states),
            results=dict(run.results),
        )
        return True
