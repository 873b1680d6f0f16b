"""``SqlTeamStore``: the ``TeamStore`` port on the ``team_runs`` table.

A team's row is written with its member tasks in one transaction: by the scheduler's group
commit (``WriteBatch.teams``) or inside a unit of work with ``insert_submitted``; its
``task_ids`` are known when it is written.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from imperium.adapters.storage.database import SqlArea
from imperium.adapters.storage.tables import team_runs
from imperium.domain.errors import ConflictError
from imperium.domain.teams import TeamRun, TeamState


class SqlTeamStore(SqlArea):
    async def insert_team(self, run: TeamRun) -> None:
        try:
            async with self._db.transaction() as conn:
                await conn.execute(sa.insert(team_runs), [team_row(run)])
        except IntegrityError as exc:
            raise ConflictError(f"team {run.team_id} already exists") from exc

    async def get_team(self, team_id: str) -> TeamRun | None:
        rows = await self._db.fetch(sa.select(team_runs).where(team_runs.c.team_id == team_id))
        return _run(rows[0]) if rows else None

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
        return [_run(row) for row in await self._db.fetch(query.limit(limit).offset(offset))]

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
        return [_run(row) for row in await self._db.fetch(query)]

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
        async with self._db.transaction() as conn:
            return (await conn.execute(update)).rowcount == 1


def team_row(run: TeamRun) -> dict[str, Any]:
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
