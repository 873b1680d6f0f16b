"""Workflow graphs: validation, cycle detection that names the cycle, topological order."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from imperium.domain.errors import CycleError, ValidationError


def find_cycle(graph: Mapping[str, Sequence[str]]) -> list[str] | None:
    """Return one cycle as a list of nodes in dependency order, or None.

    ``graph`` maps a node to the nodes it depends on; edges to unknown nodes are ignored.
    """
    white, grey, black = 0, 1, 2
    colour = dict.fromkeys(graph, white)
    for root in graph:
        if colour[root] != white:
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        path: list[str] = [root]
        colour[root] = grey
        while stack:
            node, index = stack[-1]
            deps = [d for d in graph[node] if d in graph]
            if index < len(deps):
                stack[-1] = (node, index + 1)
                nxt = deps[index]
                if colour[nxt] == grey:
                    return path[path.index(nxt) :]
                if colour[nxt] == white:
                    colour[nxt] = grey
                    stack.append((nxt, 0))
                    path.append(nxt)
            else:
                colour[node] = black
                stack.pop()
                path.pop()
    return None


def topological_order(graph: Mapping[str, Sequence[str]]) -> list[str]:
    """Nodes with every dependency before its dependents; raises CycleError on a cycle."""
    cycle = find_cycle(graph)
    if cycle is not None:
        raise CycleError(cycle)
    order: list[str] = []
    seen: set[str] = set()

    def visit(node: str) -> None:
        stack = [(node, iter(graph[node]))]
        seen.add(node)
        while stack:
            current, deps = stack[-1]
            for dep in deps:
                if dep in graph and dep not in seen:
                    seen.add(dep)
                    stack.append((dep, iter(graph[dep])))
                    break
            else:
                stack.pop()
                order.append(current)

    for node in graph:
        if node not in seen:
            visit(node)
    return order


def validate_workflow(
    graph: Mapping[str, Sequence[str]], external: frozenset[str] = frozenset()
) -> list[str]:
    """Check a workflow's graph and return a topological order of its nodes.

    Dependencies must name a node of the workflow or an ``external`` (existing) task.
    """
    for node, deps in graph.items():
        if node in deps:
            raise ValidationError(f"task '{node}' depends on itself; remove that dependency")
        unknown = [d for d in deps if d not in graph and d not in external]
        if unknown:
            raise ValidationError(
                f"task '{node}' depends on unknown task(s) {', '.join(sorted(unknown))}; "
                "name a task of this workflow or the id of an existing task"
            )
    return topological_order(graph)


def dependents_count(graph: Mapping[str, Sequence[str]]) -> dict[str, int]:
    """How many nodes depend directly on each node."""
    counts = dict.fromkeys(graph, 0)
    for deps in graph.values():
        for dep in set(deps):
            if dep in counts:
                counts[dep] += 1
    return counts
