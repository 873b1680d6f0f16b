"""``MemoryTeamStore``: the ``TeamStore`` port in memory."""

from __future__ import annotations

import dataclasses

from imperium.adapters.storage.memory._state import MemoryArea, json_copy
from imperium.domain.errors import ConflictError
from imperium.domain.teams import TeamRun, TeamState


class MemoryTeamStore(MemoryArea):
    async def insert_team(self, run: TeamRun) -> None:
        if run.team_id in self.state.teams:
            raise ConflictError(f"team {run.team_id} already exists")
        self.state.teams[run.team_id] = copy_team(run)

    async def get_team(self, team_id: str) -> TeamRun | None:
        stored = self.state.teams.get(team_id)
        return copy_team(stored) if stored is not None else None

    async def list_teams(
        self,
        state: TeamState | None = None,
        task_type: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[TeamRun]:
        found = [
            r
            for r in self.state.teams.values()
            if (state is None or r.state is state)
            and (task_type is None or r.task_type == task_type)
        ]
        found.sort(key=lambda r: (r.created_at, r.team_id), reverse=True)
        return [copy_team(r) for r in found[offset : offset + limit]]

    async def running_teams(
        self, after: tuple[float, str] | None = None, limit: int = 500
    ) -> list[TeamRun]:
        found = sorted(
            (r for r in self.state.teams.values() if r.state is TeamState.RUNNING),
            key=lambda r: (r.created_at, r.team_id),
        )
        if after is not None:
            found = [r for r in found if (r.created_at, r.team_id) > after]
        return [copy_team(r) for r in found[:limit]]

    async def finish_team(self, run: TeamRun) -> bool:
        stored = self.state.teams.get(run.team_id)
        if stored is None or stored.state is not TeamState.RUNNING:
            return False
        self.state.teams[run.team_id] = copy_team(
            dataclasses.replace(
                stored,
                state=run.state,
                finished_at=run.finished_at,
                member_states=run.member_states,
                results=run.results,
            )
        )
        return True


def copy_team(run: TeamRun) -> TeamRun:
    return dataclasses.replace(
        run, member_states=dict(run.member_states), results=json_copy(dict(run.results))
    )
