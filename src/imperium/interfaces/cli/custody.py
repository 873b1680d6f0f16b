"""``imperium custody test|status|show`` and ``imperium proposals list|show|submit|approve|
reject|apply``. They work on the database; a custody test is a task, so a running
``imperium serve`` (the scheduler) must pick it up."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from imperium.domain.custody import Category
from imperium.domain.errors import ImperiumError
from imperium.domain.models import Task
from imperium.domain.proposals import ProposalStatus
from imperium.domain.specs import TaskSpec
from imperium.domain.states import TaskState
from imperium.interfaces.cli._common import console, err_console, offline, print_json, run, settings
from imperium.interfaces.cli._waiting import scheduler_running

if TYPE_CHECKING:
    from imperium.runtime import Offline
    from imperium.settings import Settings

app = typer.Typer(help="The custody protocol: test agents, see their levels.", no_args_is_help=True)
proposals_app = typer.Typer(help="Improvement proposals by eligible agents.", no_args_is_help=True)

Database = Annotated[str | None, typer.Option("--database", help="Overrides DATABASE_URL.")]
Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]
ENDED = {TaskState.SUCCEEDED, TaskState.FAILED, TaskState.DEAD, TaskState.CANCELLED,
         TaskState.TIMED_OUT}  # fmt: skip


class _ViaDatabase:
    """The engine as the CLI sees it: tasks go into the database, and a running scheduler
    runs them; waiting is polling."""

    def __init__(self, services: Offline) -> None:
        self.services = services

    async def submit(self, spec: TaskSpec) -> Task:
        if not await scheduler_running(self.services):
            raise ImperiumError(
                "no scheduler is running: custody tests are tasks, so start `imperium serve` "
                "(same DATABASE_URL) first"
            )
        [task] = await self.services.submissions.submit([spec])
        return task

    async def cancel(self, task_id: str) -> Task:
        return await self.services.submissions.cancel(task_id)

    async def wait_for(self, task_id: str) -> Task:
        while True:
            task = await self.services.store.get_task(task_id)
            if task is not None and task.state in ENDED:
                return task
            await asyncio.sleep(0.2)


def _custody(services: Offline, cfg: Settings) -> Any:
    from imperium.runtime import SystemClock, make_custody, sandbox_policy

    return make_custody(
        services.store, _ViaDatabase(services), SystemClock(), sandbox=sandbox_policy(cfg)
    )


# ---------------------------------------------------------------------- custody
@app.command("test")
def give_test(
    agent_id: Annotated[str, typer.Argument(help="The agent to test.")],
    category: Annotated[Category | None, typer.Option("--category", "-c")] = None,
    json_out: Json = False,
    database: Database = None,
) -> None:
    """Give the agent one custody test of its tier, as a task, and grade its answer."""
    cfg = settings(database)

    async def go() -> dict[str, Any]:
        from imperium.interfaces.records import run_dict

        async with offline(cfg) as services:
            with err_console.status(f"testing {agent_id} (waiting for its answer)…"):
                return run_dict(await _custody(services, cfg).test(agent_id, category))

    out = run(go())
    if json_out:
        print_json(out)
    else:
        print_test(agent_id, out)


def print_test(agent_id: str, out: dict[str, Any]) -> None:
    """A custody test's outcome (``run_dict``), with the result id ``custody show`` takes."""
    r = out["test_result"]
    verdict = "[green]passed[/]" if r["passed"] else "[red]failed[/]"
    console.print(
        f"{agent_id}: {r['test_id']} ({out['test_category']}, {out['test_difficulty']}) "
        f"{verdict} — score {r['score']:.2f} of threshold {r['threshold']:.2f}, "
        f"+{r['xp_awarded']} XP; result {r['result_id']} (imperium custody show "
        f"{r['result_id']})"
    )
    for check in (r["evaluation"] or {}).get("checks", []):
        mark = "[green]✓[/]" if check.get("ok") else "[red]✗[/]"
        console.print(f"  {mark} {check.get('kind')} {check.get('path', '')}: "
                      f"{check.get('detail') or ''}")  # fmt: skip
    m = out["custody_metrics"]
    console.print(
        f"level {m['custody_level']} ({m['custody_xp']} XP), pass rate {m['pass_rate']:.0%}, "
        f"proposals: {m['proposal_eligibility']}"
    )


@app.command()
def status(
    agent_id: Annotated[
        str | None, typer.Argument(help="One agent; all tested ones if left out.")
    ] = None,
    json_out: Json = False,
    database: Database = None,
) -> None:
    """Custody levels, XP, pass rates and proposal eligibility."""
    cfg = settings(database)

    async def go() -> list[dict[str, Any]]:
        from imperium.domain.custody import CustodyRecord
        from imperium.interfaces.records import status_dict

        async with offline(cfg) as services:
            store = services.store
            if agent_id is not None:
                if await store.get_agent(agent_id) is None:
                    raise ImperiumError(f"no agent with id {agent_id}; see `imperium agents list`")
                record = await store.get_custody(agent_id) or CustodyRecord(agent_id)
                return [status_dict(record, await store.list_custody_results(agent_id, 10))]
            return [status_dict(r, []) for r in await store.list_custody()]

    rows = run(go())
    if json_out:
        print_json(rows if agent_id is None else rows[0])
        return
    if not rows:
        console.print("no agent has taken a custody test yet: `imperium custody test AGENT`")
        return
    table = Table(title="custody")
    for col in ("agent", "level", "XP", "tests", "pass rate", "streak", "tier", "proposals"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["ai_type"], str(r["custody_level"]), str(r["custody_xp"]),
            str(r["total_tests_given"]), f"{r['pass_rate']:.0%}",
            str(r["consecutive_successes"]), r["current_difficulty"],
            "yes" if r["can_create_proposals"] else "no",
        )  # fmt: skip
    console.print(table)
    if agent_id is not None:
        console.print(rows[0]["proposal_eligibility"])
        for h in rows[0]["test_history"]:
            console.print(f"  {h['timestamp']} {h['test_id']} "
                          f"{'passed' if h['passed'] else 'failed'} {h['score']:.2f}")  # fmt: skip


@app.command()
def show(
    result_id: Annotated[str, typer.Argument(help="A custody result id.")],
    database: Database = None,
) -> None:
    """One graded test in full (JSON): the answer and every check."""
    cfg = settings(database)

    async def go() -> dict[str, Any]:
        from imperium.interfaces.records import result_dict

        async with offline(cfg) as services:
            result = await services.store.get_custody_result(result_id)
        if result is None:
            raise ImperiumError(f"no custody result with id {result_id}")
        return result_dict(result)

    print_json(run(go()))


# ---------------------------------------------------------------------- proposals
def _proposal_service(services: Offline) -> Any:
    from imperium.runtime import SystemClock, new_id
    from imperium.services.proposals import ProposalService

    return ProposalService(services.store, SystemClock(), new_id)


@proposals_app.command("list")
def list_(
    status_filter: Annotated[ProposalStatus | None, typer.Option("--status")] = None,
    agent: Annotated[str | None, typer.Option("--agent")] = None,
    json_out: Json = False,
    database: Database = None,
) -> None:
    """Proposals, newest first."""
    cfg = settings(database)

    async def go() -> list[dict[str, Any]]:
        from imperium.interfaces.records import proposal_dict

        async with offline(cfg) as services:
            found = await _proposal_service(services).list(status_filter, agent, 200)
        return [proposal_dict(p) for p in found]

    rows = run(go())
    if json_out:
        print_json(rows)
        return
    table = Table(title=f"{len(rows)} proposal(s)")
    for col in ("id", "agent", "status", "title", "created", "decided by"):
        table.add_column(col)
    for p in rows:
        table.add_row(p["id"], p["agent_id"], p["status"], p["title"], p["created_at"],
                      p["decided_by"] or p["applied_by"] or "-")  # fmt: skip
    console.print(table)


@proposals_app.command("show")
def show_proposal(proposal_id: str, database: Database = None) -> None:
    """One proposal (JSON)."""
    cfg = settings(database)

    async def go() -> dict[str, Any]:
        from imperium.interfaces.records import proposal_dict

        async with offline(cfg) as services:
            return proposal_dict(await _proposal_service(services).get(proposal_id))

    print_json(run(go()))


@proposals_app.command("submit")
def submit(
    agent_id: Annotated[str, typer.Argument(help="The proposing agent (must be eligible).")],
    title: Annotated[str, typer.Option("--title")],
    description: Annotated[str, typer.Option("--description")] = "",
    diff_file: Annotated[
        typer.FileText | None, typer.Option("--diff", help="A file holding the diff.")
    ] = None,
    json_out: Json = False,
    database: Database = None,
) -> None:
    """Submit a proposal on an agent's behalf."""
    cfg = settings(database)
    diff = diff_file.read() if diff_file is not None else None

    async def go() -> dict[str, Any]:
        from imperium.interfaces.records import proposal_dict

        async with offline(cfg) as services:
            p = await _proposal_service(services).submit(agent_id, title, description, diff)
            return proposal_dict(p)

    p = run(go())
    if json_out:
        print_json(p)
    else:
        console.print(f"proposal {p['id']} submitted (pending)")


def _decide(to: ProposalStatus) -> Any:
    def command(
        proposal_id: Annotated[str, typer.Argument()],
        by: Annotated[str, typer.Option("--by", help="Who decides (recorded).")],
        note: Annotated[str | None, typer.Option("--note")] = None,
        database: Database = None,
    ) -> None:
        cfg = settings(database)

        async def go() -> Any:
            async with offline(cfg) as services:
                return await _proposal_service(services).decide(proposal_id, to, by, note)

        p = run(go())
        console.print(f"proposal {p.proposal_id} is {p.status} (by {by})")

    command.__doc__ = f"Mark a proposal {to.value}."
    return command


proposals_app.command("approve")(_decide(ProposalStatus.APPROVED))
proposals_app.command("reject")(_decide(ProposalStatus.REJECTED))
proposals_app.command("apply")(_decide(ProposalStatus.APPLIED))
