"""``imperium tasks …`` and ``imperium submit``."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.live import Live
from rich.spinner import Spinner

from imperium.domain.errors import ConflictError, ImperiumError, NotFoundError
from imperium.domain.models import Task
from imperium.domain.specs import TaskSpec, WorkflowSpec
from imperium.domain.states import PriorityLevel, TaskState
from imperium.interfaces.cli._common import (
    console,
    err_console,
    fail,
    offline,
    parse_json_option,
    parse_resources,
    parse_when,
    print_json,
    run,
    settings,
)
from imperium.interfaces.cli._ids import resolve_task_id
from imperium.interfaces.cli._rating import Comment, Down, Score, Up, thumbs_of
from imperium.interfaces.cli._reasons import unrunnable
from imperium.interfaces.cli._render import (
    executions_table,
    field_text,
    styled_state,
    tasks_table,
)
from imperium.interfaces.cli._waiting import check_runnable, wait_for
from imperium.interfaces.records import event_dict, execution_dict, feedback_dict, task_dict
from imperium.interfaces.specs import parse_workflow
from imperium.ports import TaskFilter

app = typer.Typer(help="List, inspect, watch, cancel and retry tasks.", no_args_is_help=True)

Database = Annotated[str | None, typer.Option("--database", help="Overrides DATABASE_URL.")]
Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]
TaskId = Annotated[
    str, typer.Argument(help="The task's id, or a unique start of it (6 characters or more).")
]


def _priority(text: str) -> PriorityLevel:
    try:
        return PriorityLevel.parse(text)
    except ValueError:
        names = ", ".join(p.value for p in PriorityLevel)
        raise fail(f"priority '{text}' is not one of {names} (or medium)") from None


def load_workflow(path: Path) -> WorkflowSpec:
    try:
        data = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise fail(f"cannot read {path}: {exc.strerror}") from None
    except orjson.JSONDecodeError as exc:
        raise fail(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise fail(f'{path} must be a JSON object like {{"name": "...", "tasks": [...]}}')
    try:
        return parse_workflow(data, time.time())
    except ImperiumError as exc:
        raise fail(f"{path}: {exc}") from None


def submit(
    task_type: Annotated[str | None, typer.Argument(help="The kind of work, e.g. echo.")] = None,
    payload: Annotated[str | None, typer.Option(help="JSON payload.")] = None,
    capability: Annotated[list[str] | None, typer.Option("--capability", "-c")] = None,
    priority: Annotated[str, typer.Option(help="critical|high|normal|low|background")] = "normal",
    complexity: Annotated[float, typer.Option()] = 1.0,
    deadline: Annotated[str | None, typer.Option(help="ISO time or +30s/+5m/+2h.")] = None,
    timeout: Annotated[float | None, typer.Option(help="Seconds per attempt.")] = None,
    max_attempts: Annotated[int, typer.Option()] = 3,
    resource: Annotated[list[str] | None, typer.Option("--resource", "-r")] = None,
    agent: Annotated[str | None, typer.Option(help="Pin to this agent id.")] = None,
    depends_on: Annotated[list[str] | None, typer.Option("--depends-on")] = None,
    workflow: Annotated[
        Path | None, typer.Option(help="Submit a workflow JSON file instead of one task.")
    ] = None,
    wait: Annotated[bool, typer.Option(help="Wait until it ends and print the result.")] = False,
    wait_timeout: Annotated[float | None, typer.Option(help="Give up waiting after N s.")] = None,
    database: Database = None,
    as_json: Json = False,
) -> None:
    """Submit a task (or a workflow with --workflow). It is durable when this returns; a
    running `imperium serve` picks it up."""
    if (task_type is None) == (workflow is None):
        raise fail("give a task TYPE or --workflow FILE (one of them)")
    if workflow is not None:
        wf = load_workflow(workflow)
    else:
        assert task_type is not None
        spec = TaskSpec(
            type=task_type,
            payload=parse_json_option(payload, "--payload"),
            capabilities=tuple(capability or ()),
            priority=_priority(priority),
            complexity=complexity,
            deadline=parse_when(deadline, time.time()),
            timeout=timeout,
            max_attempts=max_attempts,
            resources=parse_resources(resource),
            pinned_agent=agent,
            depends_on=tuple(depends_on or ()),
        )

    async def go() -> tuple[str | None, list[Task]]:
        async with offline(settings(database)) as im:
            service = im.submissions
            if workflow is not None:
                wid, tasks = await service.submit_workflow(wf)
            else:
                wid, tasks = None, await service.submit([spec])
            if wait:
                await check_runnable(im, tasks)
                tasks = await wait_for(im, tasks, wait_timeout)
            elif (reason := await unrunnable(im, tasks, when_none_registered=False)) is not None:
                err_console.print(f"[yellow]warning:[/] {reason}")
            return wid, tasks

    workflow_id, tasks = run(go())
    if as_json:
        out: Any = [task_dict(t) for t in tasks]
        print_json({"workflow_id": workflow_id, "tasks": out} if workflow_id else out[0])
        return
    if workflow_id:
        console.print(f"workflow [bold]{workflow_id}[/] with {len(tasks)} task(s)")
    for t in tasks:
        console.print(f"task [bold]{t.id}[/] {t.name or t.type}: {styled_state(str(t.state))}")
        if wait and t.state is TaskState.SUCCEEDED:
            console.print_json(orjson.dumps(t.result).decode())
        elif wait and t.error_message:
            console.print(f"  [red]{t.error_kind}: {t.error_message}[/]")
    if wait and any(t.state is not TaskState.SUCCEEDED for t in tasks):
        raise typer.Exit(1)


@app.command("list")
def list_tasks(
    state: Annotated[str | None, typer.Option(help="Only tasks in this state.")] = None,
    task_type: Annotated[str | None, typer.Option("--type")] = None,
    agent: Annotated[str | None, typer.Option()] = None,
    workflow: Annotated[str | None, typer.Option()] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    database: Database = None,
    as_json: Json = False,
) -> None:
    """List tasks, newest first. `--state dead` shows the dead-letter set."""
    try:
        wanted = TaskState(state) if state else None
    except ValueError:
        raise fail(
            f"state '{state}' is not one of {', '.join(s.value for s in TaskState)}"
        ) from None
    flt = TaskFilter(wanted, task_type, agent, workflow, limit, offset)

    async def go() -> list[Task]:
        async with offline(settings(database)) as im:
            store = im.store
            return await store.list_tasks(flt)

    tasks = run(go())
    if as_json:
        print_json([task_dict(t) for t in tasks])
    else:
        console.print(tasks_table(tasks, console.width))


async def _details(database: str | None, task_id: str) -> dict[str, Any]:
    async with offline(settings(database)) as im:
        store = im.store
        task_id = await resolve_task_id(store, task_id)
        task = await store.get_task(task_id)
        if task is None:
            raise NotFoundError(f"no task with id {task_id}")
        return {
            "task": task,
            "executions": await store.executions_for(task_id),
            "events": await store.events_for(task_id),
            "cancel_requested": await store.cancel_requested(task_id),
        }


@app.command()
def show(task_id: TaskId, database: Database = None, as_json: Json = False) -> None:
    """Show a task, every attempt and its events."""
    d = run(_details(database, task_id))
    if as_json:
        print_json(
            {
                **task_dict(d["task"]),
                "cancel_requested": d["cancel_requested"],
                "executions": [execution_dict(e) for e in d["executions"]],
                "events": [event_dict(e) for e in d["events"]],
            }
        )
        return
    for key, value in task_dict(d["task"]).items():
        if value not in (None, [], {}):
            console.print(f"[bold]{key}[/]: {field_text(key, value)}")
    if d["cancel_requested"]:
        console.print("[yellow]cancel requested; the scheduler applies it when it polls[/]")
    console.print(executions_table(d["executions"]))
    for e in d["events"]:
        data = "" if e.data is None else field_text("data", e.data)
        console.print(f"  {event_dict(e)['at']}  {e.event_type}  {data}")


@app.command()
def watch(
    task_id: TaskId,
    interval: Annotated[float, typer.Option(min=0.05)] = 0.5,
    database: Database = None,
) -> None:
    """Follow a task until it ends."""

    async def go() -> Task:
        async with offline(settings(database)) as im:
            store = im.store
            found = await resolve_task_id(store, task_id)
            with Live(Spinner("dots", text="…"), console=console, transient=False) as live:
                while True:
                    task = await store.get_task(found)
                    if task is None:
                        raise NotFoundError(f"no task with id {found}")
                    text = (
                        f"{task.id} {styled_state(str(task.state))} attempt "
                        f"{task.attempts}/{task.max_attempts} agent {task.agent_id or '-'}"
                    )
                    live.update(Spinner("dots", text=text) if not task.state.is_terminal else text)
                    if task.state.is_terminal:
                        return task
                    await asyncio.sleep(interval)

    task = run(go())
    if task.state is not TaskState.SUCCEEDED:
        raise typer.Exit(1)


@app.command()
def cancel(task_id: TaskId, database: Database = None) -> None:
    """Cancel a task (the scheduler applies it within a poll interval)."""

    async def go() -> Task:
        async with offline(settings(database)) as im:
            return await im.submissions.cancel(await resolve_task_id(im.store, task_id))

    task = run(go())
    console.print(
        f"cancel requested for task [bold]{task.id}[/] (was {task.state}); "
        "a running `imperium serve` applies it within a poll interval"
    )


@app.command()
def retry(
    task_id: TaskId,
    attempts: Annotated[int, typer.Option(min=1, max=100, help="Attempts to add.")] = 1,
    database: Database = None,
) -> None:
    """Give a dead, timed-out or failed task more attempts."""

    async def go() -> str:
        async with offline(settings(database)) as im:
            store = im.store
            found = await resolve_task_id(store, task_id)
            task = await store.get_task(found)
            if task is None:
                raise NotFoundError(f"no task with id {found}")
            ok = await store.resubmit(found, task.attempts + attempts, time.time())
            if not ok:
                raise ConflictError(
                    f"task {found} is {task.state}; only dead, timed_out or failed tasks "
                    "can be retried"
                )
            return found

    task_id = run(go())
    console.print(f"task [bold]{task_id}[/] resubmitted with {attempts} more attempt(s)")


@app.command()
def rate(
    task_id: TaskId,
    up: Up = False,
    down: Down = False,
    score: Score = None,
    comment: Comment = None,
    database: Database = None,
    as_json: Json = False,
) -> None:
    """Rate the result of a task that has ended (--up, --down or --score). The rating is
    blended with the attempt's success in what the router learns about its agent."""
    thumbs = thumbs_of(up, down, score)

    async def go() -> dict[str, Any]:
        async with offline(settings(database)) as im:
            found = await resolve_task_id(im.store, task_id)
            feedback = await im.feedback.rate(
                found, score=score, thumbs=thumbs, comment=comment, given_by="cli"
            )
            return feedback_dict(feedback)

    rated = run(go())
    if as_json:
        print_json(rated)
        return
    console.print(
        f"rated task [bold]{rated['task_id']}[/] {rated['score']:g} "
        f"(attempt {rated['attempt']} by {rated['agent_id']}); a running `imperium serve` "
        "learns from it at its next learning cycle or start"
    )
