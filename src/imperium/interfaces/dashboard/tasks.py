"""Tasks: the filtered list (newest first, keyset pages over ``ix_tasks_created_at``), a
task's page (payload, result, attempts on a timeline, events, people's ratings) and its
Cancel and Retry forms, which call the engine as the API's routes do, and its "Rate this
result" form, which calls the feedback service as the signed-in key."""

from __future__ import annotations

import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.responses import Response

from imperium.domain.errors import ImperiumError, NotFoundError, ValidationError
from imperium.domain.feedback import MAX_COMMENT, Feedback, rated_attempt
from imperium.domain.models import Execution, Task
from imperium.domain.states import TaskState
from imperium.interfaces.api.deps import services_of
from imperium.interfaces.dashboard.access import Viewer, form, viewer, writer
from imperium.interfaces.dashboard.pages import redirect, render
from imperium.ports import TaskFilter

router = APIRouter(include_in_schema=False)

PAGE = 50
SINCE = {"15m": 900.0, "1h": 3600.0, "24h": 86400.0, "7d": 7 * 86400.0}
MAX_TEXT = 200
TIMELINE_WIDTH = 600.0
ENDED = frozenset(
    {
        TaskState.SUCCEEDED,
        TaskState.FAILED,
        TaskState.DEAD,
        TaskState.CANCELLED,
        TaskState.TIMED_OUT,
    }
)
RETRYABLE = frozenset({TaskState.DEAD, TaskState.TIMED_OUT, TaskState.FAILED})


@dataclass(frozen=True)
class Filters:
    """The list's query, as the form sends it (empty text: no condition)."""

    state: str = ""
    type: str = ""
    agent: str = ""
    workflow: str = ""
    since: str = ""
    id: str = ""

    @classmethod
    def of(cls, request: Request) -> Filters:
        q = request.query_params
        fields = ("state", "type", "agent", "workflow", "since", "id")
        return cls(**{name: q.get(name, "").strip()[:MAX_TEXT] for name in fields})

    def task_filter(self, after: tuple[float, str] | None) -> TaskFilter:
        state = TaskState(self.state) if self.state in set(TaskState) else None
        window = SINCE.get(self.since)
        return TaskFilter(
            state=state,
            type=self.type or None,
            agent_id=self.agent or None,
            workflow_id=self.workflow or None,
            limit=PAGE + 1,  # one more: whether there is a next page
            created_after=time.time() - window if window is not None else None,
            id_prefix=self.id or None,
            after=after,
        )

    def query(self, **extra: str) -> str:
        fields = {k: v for k, v in vars(self).items() if v}
        return urlencode({**fields, **extra})


def _cursor(text: str | None) -> tuple[float, str] | None:
    """``after=<created_at>~<id>``: the last row of the previous page."""
    created_at, _, task_id = (text or "").partition("~")
    try:
        return (float(created_at), task_id) if task_id else None
    except ValueError:
        return None


async def _page(request: Request) -> dict[str, Any]:
    filters = Filters.of(request)
    after = _cursor(request.query_params.get("after"))
    found = await services_of(request.app).queries.list_tasks(filters.task_filter(after))
    tasks, more = found[:PAGE], len(found) > PAGE
    last = tasks[-1] if tasks else None
    next_query = filters.query(after=f"{last.created_at!r}~{last.id}") if more and last else None
    return {
        "tasks": tasks,
        "filters": filters,
        "states": [str(s) for s in TaskState],
        "since_options": list(SINCE),
        "next_query": next_query,
        "first_query": filters.query(),
        "paged": after is not None,
    }


@router.get("/tasks")
async def task_list(request: Request) -> Response:
    who = await viewer(request)
    return render(request, who, "tasks.html", **await _page(request))


@router.get("/ui/tasks")
async def task_rows(request: Request) -> Response:
    """The list's table alone, which the page swaps in when events arrive."""
    who = await viewer(request)
    return render(request, who, "_task_table.html", **await _page(request))


@dataclass(frozen=True)
class Bar:
    """One attempt on the timeline, in SVG user units."""

    x: float
    width: float
    y: float
    execution: Execution


def timeline(executions: list[Execution]) -> list[Bar]:
    if not executions:
        return []
    start = min(e.started_at for e in executions)
    span = max(max(e.finished_at for e in executions) - start, 1e-6)
    scale = TIMELINE_WIDTH / span
    return [
        Bar(
            x=round((e.started_at - start) * scale, 2),
            width=round(max((e.finished_at - e.started_at) * scale, 2.0), 2),
            y=i * 22.0,
            execution=e,
        )
        for i, e in enumerate(executions)
    ]


async def _task(request: Request, task_id: str) -> Task:
    task = await services_of(request.app).queries.get_task(task_id)
    if task is None:
        raise NotFoundError(f"no task with id {task_id}")
    return task


@router.get("/tasks/{task_id}")
async def task_page(request: Request, task_id: str) -> Response:
    who = await viewer(request)
    services = services_of(request.app)
    queries = services.queries
    task = await _task(request, task_id)
    executions = await queries.executions_for(task_id)
    return render(
        request,
        who,
        "task.html",
        task=task,
        executions=executions,
        bars=timeline(executions),
        timeline_width=TIMELINE_WIDTH,
        events=await queries.events_for(task_id),
        can_cancel=task.state not in ENDED,
        can_retry=task.state in RETRYABLE,
        can_rate=rateable(task, executions),
        ratings=await services.feedback.for_task(task_id),
        max_comment=MAX_COMMENT,
        notice=request.query_params.get("notice", "")[:MAX_TEXT],
    )


@router.post("/tasks/{task_id}/cancel")
async def cancel(request: Request, task_id: str) -> Response:
    who = await writer(request)
    await _task(request, task_id)
    notice = await _act(services_of(request.app).engine.cancel(task_id), "cancel requested")
    return redirect(request, who, f"/tasks/{task_id}?{urlencode({'notice': notice})}")


@router.post("/tasks/{task_id}/retry")
async def retry(request: Request, task_id: str) -> Response:
    who = await writer(request)
    await _task(request, task_id)
    notice = await _act(services_of(request.app).engine.requeue(task_id, 1), "queued again")
    return redirect(request, who, f"/tasks/{task_id}?{urlencode({'notice': notice})}")


async def _act(action: Awaitable[object], done: str) -> str:
    """Run the engine's ``action``; what the user is told (the engine's refusal, e.g. a
    task that already ended, is shown, not raised)."""
    try:
        await action
    except ImperiumError as exc:
        return str(exc)
    return done


def rateable(task: Task, executions: list[Execution]) -> bool:
    """Whether the task's result can be rated (what the feedback service accepts): it has
    ended with a result, produced by an agent's attempt."""
    has_result = task.state is TaskState.SUCCEEDED or task.result is not None
    return task.state.is_terminal and has_result and rated_attempt(executions) is not None


@router.post("/tasks/{task_id}/feedback")
async def rate(request: Request, task_id: str) -> Response:
    who = await writer(request)
    await _task(request, task_id)
    try:
        rated = await _rate(request, task_id, who)
    except ImperiumError as exc:  # not ended, no result, a bad score: told, not raised
        notice = str(exc)
    else:
        notice = f"rated {rated.score:g} as {rated.given_by}"
    return redirect(request, who, f"/tasks/{task_id}?{urlencode({'notice': notice})}")


async def _rate(request: Request, task_id: str, who: Viewer) -> Feedback:
    """The form's rating: a thumbs button, or the score field with the score button."""
    fields = await form(request)
    text = fields.get("score", "").strip()
    try:
        score = float(text) if text else None
    except ValueError:
        raise ValidationError(f"score must be a number from 0 to 1, got {text[:20]!r}") from None
    return await services_of(request.app).feedback.rate(
        task_id,
        score=score,
        thumbs=fields.get("thumbs") or None,
        comment=fields.get("comment"),
        given_by=who.acting_as,
    )
