"""Workflows: the recent ones with their tasks counted per state (``recent_workflows``, a
bounded read over an index), and a workflow's page: its DAG drawn as server-rendered SVG
(one column per depth, nodes coloured by state, edges from ``depends_on``), each node a
link to its task."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from starlette.responses import Response

from imperium.domain.errors import NotFoundError
from imperium.domain.models import Task
from imperium.domain.states import TaskState
from imperium.interfaces.api.deps import services_of
from imperium.interfaces.dashboard.access import viewer
from imperium.interfaces.dashboard.pages import render
from imperium.ports import TaskFilter

router = APIRouter(include_in_schema=False)

LISTED = 50
MAX_TASKS = 10_000  # a workflow's largest size (the API's limit)
MAX_DRAWN = 400  # nodes in the drawing; a larger workflow is listed, not drawn
NODE_W, NODE_H, GAP_X, GAP_Y = 170.0, 34.0, 60.0, 14.0


@dataclass(frozen=True)
class Node:
    task: Task
    x: float
    y: float


@dataclass(frozen=True)
class Edge:
    x1: float
    y1: float
    x2: float
    y2: float


def depths(tasks: list[Task]) -> dict[str, int]:
    """Each task's depth: 0 without dependencies inside the workflow, else one more than
    its deepest dependency (the workflow is acyclic; it was validated at submission)."""
    by_id = {t.id: t for t in tasks}
    found: dict[str, int] = {}
    for task in sorted(tasks, key=lambda t: t.created_at):  # dependencies are made first
        inside = [found.get(d, 0) for d in task.depends_on if d in by_id]
        found[task.id] = 1 + max(inside) if inside else 0
    return found


def layout(tasks: list[Task]) -> tuple[list[Node], list[Edge], float, float]:
    """Nodes in columns by depth, edges from each dependency to its dependent, and the
    drawing's width and height."""
    depth = depths(tasks)
    rows: dict[int, int] = {}
    nodes: dict[str, Node] = {}
    for task in sorted(tasks, key=lambda t: (depth[t.id], t.name or "", t.id)):
        column = depth[task.id]
        row = rows.get(column, 0)
        rows[column] = row + 1
        nodes[task.id] = Node(task, column * (NODE_W + GAP_X), row * (NODE_H + GAP_Y))
    edges = [
        Edge(nodes[d].x + NODE_W, nodes[d].y + NODE_H / 2, node.x, node.y + NODE_H / 2)
        for node in nodes.values()
        for d in node.task.depends_on
        if d in nodes
    ]
    width = (max(rows) + 1) * (NODE_W + GAP_X) - GAP_X if rows else 0.0
    height = max(rows.values(), default=0) * (NODE_H + GAP_Y) - GAP_Y
    return list(nodes.values()), edges, width, max(height, 0.0)


@router.get("/workflows")
async def workflow_list(request: Request) -> Response:
    who = await viewer(request)
    found = await services_of(request.app).statistics.recent_workflows(LISTED)
    return render(request, who, "workflows.html", workflows=found, states=list(TaskState))


@router.get("/workflows/{workflow_id}")
async def workflow_page(request: Request, workflow_id: str) -> Response:
    who = await viewer(request)
    flt = TaskFilter(workflow_id=workflow_id, limit=MAX_TASKS)
    tasks = await services_of(request.app).queries.list_tasks(flt)
    if not tasks:
        raise NotFoundError(f"no workflow with id {workflow_id}")
    drawn = len(tasks) <= MAX_DRAWN
    nodes, edges, width, height = layout(tasks) if drawn else ([], [], 0.0, 0.0)
    counts: dict[str, int] = {}
    for task in tasks:
        counts[task.state] = counts.get(task.state, 0) + 1
    return render(
        request,
        who,
        "workflow.html",
        workflow_id=workflow_id,
        tasks=sorted(tasks, key=lambda t: t.created_at),
        counts=counts,
        drawn=drawn,
        max_drawn=MAX_DRAWN,
        nodes=nodes,
        edges=edges,
        width=width,
        height=height,
        node_w=NODE_W,
        node_h=NODE_H,
    )
