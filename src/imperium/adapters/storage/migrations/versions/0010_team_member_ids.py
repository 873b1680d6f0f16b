"""Every running team lists its member tasks: a team's row is now written with its members
in one transaction, and nothing repairs a row without them any more.

Before, the row was written first and the members' ids recorded afterwards, a settling
routine completing a row left without them. This fills them in for such rows, from the
tasks of the team's workflow (``workflow_id`` = the team's id, ``pinned_agent`` = the
member), or, when not every member's task is there, ends the team as failed with its
members ``missing``, as that routine did.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEVER_STORED = "its task was never stored (the process submitting the team stopped first)"

_teams = sa.table(
    "team_runs",
    sa.column("team_id", sa.String()),
    sa.column("members", sa.JSON()),
    sa.column("task_ids", sa.JSON()),
    sa.column("state", sa.String()),
    sa.column("finished_at", sa.Double()),
    sa.column("member_states", sa.JSON()),
    sa.column("results", sa.JSON()),
)
_tasks = sa.table(
    "tasks",
    sa.column("id", sa.String()),
    sa.column("workflow_id", sa.String()),
    sa.column("pinned_agent", sa.String()),
)


def upgrade() -> None:
    conn = op.get_bind()
    running = conn.execute(
        sa.select(_teams.c.team_id, _teams.c.members, _teams.c.task_ids).where(
            _teams.c.state == "running"
        )
    ).all()
    for team_id, members, task_ids in running:
        if not task_ids:
            conn.execute(_completed(conn, team_id, list(members)))


def _completed(conn: sa.Connection, team_id: str, members: list[str]) -> sa.Update:
    found = conn.execute(
        sa.select(_tasks.c.pinned_agent, _tasks.c.id).where(_tasks.c.workflow_id == team_id)
    ).all()
    by_member = {agent: task_id for agent, task_id in found}
    update = sa.update(_teams).where(_teams.c.team_id == team_id)
    if all(m in by_member for m in members):
        return update.values(task_ids=[by_member[m] for m in members])
    return update.values(
        state="failed",
        finished_at=time.time(),
        member_states=dict.fromkeys(members, "missing"),
        results=dict.fromkeys(members, NEVER_STORED),
    )


def downgrade() -> None:
    pass  # the filled-in ids and ended teams are valid under the old code too
