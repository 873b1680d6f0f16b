"""``imperium teams submit|list|show|combinations``: one task given to a team of agents.

They work on the database: ``submit`` stores the members' tasks and the team (choosing the
team from the recorded history, as the server's router would), and a running ``imperium
serve`` runs the members and records the team's end.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from imperium.domain.errors import ImperiumError
from imperium.domain.states import PriorityLevel
from imperium.domain.teams import MAX_SIZE, TeamRun, TeamState
from imperium.interfaces.cli._common import (
    console,
    err_console,
    fail,
    offline,
    parse_json_option,
    print_json,
    run,
    settings,
)
from imperium.interfaces.cli._rating import Comment, Down, Score, Up, thumbs_of
from imperium.interfaces.cli._render import field_text
from imperium.interfaces.cli._waiting import scheduler_running

if TYPE_CHECKING:
    from imperium.runtime import Offline
    from imperium.services.teams import TeamService
    from imperium.settings import Settings

app = typer.Typer(help="Team tasks: one task given to several agents.", no_args_is_help=True)

Database = Annotated[str | None, typer.Option("--database", help="Overrides DATABASE_URL.")]
Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]


async def _teams(cfg: Settings, services: Offline) -> TeamService:
    """Team tasks as the CLI submits them: members stored for the scheduler, the team
    chosen by a router that has replayed the recorded history."""
    from imperium.interfaces.cli.learning import _learner
    from imperium.runtime import make_teams

    learner = _learner(cfg, services)
    with err_console.status("learning from recorded executions and teams…"):
        await learner.warm_up(fit=False)
        levels = {r.agent_id: r.level for r in await services.store.list_custody()}
        need = cfg.min_levels
        teams = make_teams(
            services.store, services.store, learner.router,
            services.submissions.submit_workflow,
            qualified=lambda agent_id, kind: levels.get(agent_id, 1) >= need.get(kind, 1),
        )  # fmt: skip
        await teams.warm_up()
    return teams


@app.command()
def submit(
    task_type: Annotated[str, typer.Argument(help="The task type, e.g. review.")],
    size: Annotated[
        int | None, typer.Option("--size", "-k", help=f"Team size, 2 to {MAX_SIZE}.")
    ] = None,
    members: Annotated[
        list[str] | None, typer.Option("--member", "-m", help="A member (repeat); else chosen.")
    ] = None,
    quorum: Annotated[
        int | None, typer.Option("--quorum", help="Members that must succeed (all).")
    ] = None,
    payload: Annotated[str | None, typer.Option("--payload", help="JSON payload.")] = None,
    capability: Annotated[list[str] | None, typer.Option("--capability")] = None,
    priority: Annotated[str, typer.Option("--priority")] = "normal",
    timeout: Annotated[float | None, typer.Option("--timeout", help="Seconds per attempt.")] = None,
    max_attempts: Annotated[int, typer.Option("--max-attempts", min=1)] = 3,
    wait: Annotated[bool, typer.Option("--wait", help="Wait until the team has ended.")] = False,
    json_out: Json = False,
    database: Database = None,
) -> None:
    """Give one task to a team: each member runs it (pinned to it); the team succeeds when
    QUORUM members did."""
    from imperium.services.teams import TeamRequest

    cfg = settings(database)
    try:
        level = PriorityLevel.parse(priority)
    except ValueError:
        raise fail(
            f"unknown priority '{priority}'; use critical|high|normal|low|background"
        ) from None
    request = TeamRequest(
        type=task_type,
        payload=parse_json_option(payload, "--payload"),
        size=size,
        members=tuple(members or ()),
        quorum=quorum,
        capabilities=tuple(capability or ()),
        priority=level,
        timeout=timeout,
        max_attempts=max_attempts,
    )

    async def go() -> dict[str, Any]:
        from imperium.interfaces.records import team_dict

        async with offline(cfg) as services:
            teams = await _teams(cfg, services)
            stored = await teams.submit(request)
            if wait:
                await _need_scheduler(services, stored.team_id)
                with err_console.status("waiting for the team's members…"):
                    stored = await _until_ended(services, teams, stored.team_id)
            return team_dict(stored)

    out = run(go())
    if json_out:
        print_json(out)
        return
    _print_team(out)


@app.command("list")
def list_(
    state: Annotated[TeamState | None, typer.Option("--state")] = None,
    task_type: Annotated[str | None, typer.Option("--type")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 50,
    json_out: Json = False,
    database: Database = None,
) -> None:
    """Team tasks, newest first."""
    cfg = settings(database)

    async def go() -> list[dict[str, Any]]:
        from imperium.interfaces.records import team_dict

        async with offline(cfg) as services:
            found = await services.store.list_teams(state, task_type, limit)
        return [team_dict(r) for r in found]

    rows = run(go())
    if json_out:
        print_json(rows)
        return
    if not rows:
        console.print("no team tasks yet: `imperium teams submit TYPE --size 2`")
        return
    table = Table(title="team tasks")
    for col in ("id", "type", "state", "members", "succeeded / quorum", "created"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["id"], r["type"], r["state"], ", ".join(r["members"]),
            f"{r['members_succeeded']} / {r['quorum']}", r["created_at"],
        )  # fmt: skip
    console.print(table)


@app.command()
def show(
    team_id: Annotated[str, typer.Argument(help="A team task's id.")],
    json_out: Json = False,
    database: Database = None,
) -> None:
    """One team task: its members, their states and results."""
    cfg = settings(database)

    async def go() -> dict[str, Any]:
        from imperium.interfaces.records import team_dict
        from imperium.services.teams import load_team

        async with offline(cfg) as services:
            return team_dict(await load_team(services.store, services.store, team_id))

    out = run(go())
    if json_out:
        print_json(out)
        return
    _print_team(out)


@app.command()
def rate(
    team_id: Annotated[str, typer.Argument(help="A team task's id.")],
    up: Up = False,
    down: Down = False,
    score: Score = None,
    comment: Comment = None,
    json_out: Json = False,
    database: Database = None,
) -> None:
    """Rate a team task's result once it has ended (--up, --down or --score): each member
    task that ended with a result gets the rating."""
    thumbs = thumbs_of(up, down, score)

    async def go() -> list[dict[str, Any]]:
        from imperium.interfaces.records import feedback_dict

        async with offline(settings(database)) as services:
            rated = await services.feedback.rate_team(
                team_id, score=score, thumbs=thumbs, comment=comment, given_by="cli"
            )
            return [feedback_dict(f) for f in rated]

    rated = run(go())
    if json_out:
        print_json(rated)
        return
    members = ", ".join(f"{r['agent_id']} (task {r['task_id']})" for r in rated)
    console.print(
        f"rated team {team_id} {rated[0]['score']:g}: {members}; a running `imperium serve` "
        "learns from it at its next learning cycle or start"
    )


@app.command()
def cancel(
    team_id: Annotated[str, typer.Argument(help="A team task's id.")],
    json_out: Json = False,
    database: Database = None,
) -> None:
    """Cancel the members that have not ended; the scheduler stops them and records the
    team (failed, unless the members that had succeeded make its quorum)."""
    cfg = settings(database)

    async def go() -> dict[str, Any]:
        from imperium.interfaces.records import team_dict
        from imperium.services.teams import cancel_team, load_team

        async with offline(cfg) as services:
            store = services.store
            await cancel_team(store, store, team_id, services.submissions.cancel)
            return team_dict(await load_team(store, store, team_id))

    out = run(go())
    if json_out:
        print_json(out)
        return
    console.print(f"cancelling the unfinished members of team {team_id}; the scheduler stops them")
    _print_team(out)


@app.command()
def recommend(
    task_type: Annotated[str, typer.Argument(help="The task type, e.g. review.")],
    size: Annotated[int, typer.Option("--size", "-k", help=f"Team size, 2 to {MAX_SIZE}.")],
    quorum: Annotated[int | None, typer.Option("--quorum")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100)] = 5,
    json_out: Json = False,
    database: Database = None,
) -> None:
    """The teams most likely to succeed at such a task (nothing is submitted)."""
    cfg = settings(database)

    async def go() -> list[dict[str, Any]]:
        from imperium.interfaces.records import team_estimate_dict

        async with offline(cfg) as services:
            teams = await _teams(cfg, services)
            ranked = await teams.recommend(task_type, size, quorum)
        return [team_estimate_dict(task_type, e) for e in ranked[:limit]]

    rows = run(go())
    if json_out:
        print_json(rows)
        return
    _print_estimates(rows, f"teams of {size} for {task_type}, most likely to succeed first")


@app.command()
def combinations(
    task_type: Annotated[str | None, typer.Option("--type")] = None,
    json_out: Json = False,
    database: Database = None,
) -> None:
    """What the router learned about combinations of agents, best first."""
    cfg = settings(database)

    async def go() -> list[dict[str, Any]]:
        from imperium.interfaces.records import team_estimate_dict

        async with offline(cfg) as services:
            teams = await _teams(cfg, services)
            return [team_estimate_dict(kind, e) for kind, e in teams.combinations(task_type)]

    rows = run(go())
    if json_out:
        print_json(rows)
        return
    if not rows:
        console.print("no team has ended yet: `imperium teams submit TYPE --size 2`")
        return
    _print_estimates(rows, "agent combinations")


def _print_estimates(rows: list[dict[str, Any]], title: str) -> None:
    table = Table(title=title)
    for col in ("type", "members", "expected success", "from members alone", "95% interval", "n"):
        table.add_column(col)
    for r in rows:
        low, high = r["success_interval"]
        table.add_row(
            r["type"], ", ".join(r["members"]), f"{r['expected_success']:.0%}",
            f"{r['prior_from_members']:.0%}", f"{low:.0%} to {high:.0%}", str(r["sample_size"]),
        )  # fmt: skip
    console.print(table)


async def _until_ended(services: Offline, teams: TeamService, team_id: str) -> TeamRun:
    while True:
        run = await teams.get(team_id)
        if run.state is not TeamState.RUNNING:
            return run
        await _need_scheduler(services, team_id)  # it may have stopped meanwhile
        await asyncio.sleep(0.5)


async def _need_scheduler(services: Offline, team_id: str) -> None:
    if not await scheduler_running(services):
        raise ImperiumError(
            f"team {team_id} is stored, but no scheduler is running to run its members: "
            f"start `imperium serve` (same DATABASE_URL), then `imperium teams show {team_id}`"
        )


def _print_team(t: dict[str, Any]) -> None:
    colour = {"succeeded": "green", "failed": "red"}.get(t["state"], "yellow")
    console.print(
        f"team {t['id']} ({t['type']}): [{colour}]{t['state']}[/] — "
        f"{t['members_succeeded']} of {len(t['members'])} members succeeded, quorum "
        f"{t['quorum']} (chosen by {t['chosen_by']})"
    )
    for member in t["members"]:
        result = t["results"].get(member)
        console.print(
            f"  {member}: {t['member_states'].get(member, '?')} (task {t['task_ids'][member]})"
            + ("" if result is None else f" -> {field_text('result', result)}")
        )
