"""The store of team runs."""

from __future__ import annotations

from typing import Protocol

from imperium.domain.teams import TeamRun, TeamState


class TeamStore(Protocol):
    async def insert_team(self, run: TeamRun) -> None:
        """Raises ConflictError when the id exists. A team's row is written with its
        member tasks (their ids in ``run.task_ids``) in one unit of work."""
        ...

    async def get_team(self, team_id: str) -> TeamRun | None: ...

    async def list_teams(
        self,
        state: TeamState | None = None,
        task_type: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[TeamRun]:
        """Newest first."""
        ...

    async def running_teams(
        self, after: tuple[float, str] | None = None, limit: int = 500
    ) -> list[TeamRun]:
        """Running teams oldest first, after the (created_at, team_id) ``after``."""
        ...

    async def finish_team(self, run: TeamRun) -> bool:
        """Store the ended ``run`` if the stored one is still running; False otherwise."""
        ...
