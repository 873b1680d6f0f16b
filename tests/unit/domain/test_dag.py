"""Workflow graphs: cycles are found and named, orders respect dependencies."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imperium.domain.dag import dependents_count, find_cycle, topological_order, validate_workflow
from imperium.domain.errors import CycleError, ValidationError

Graph = dict[str, list[str]]
NODES = [f"n{i}" for i in range(8)]


@st.composite
def dags(draw: st.DrawFn) -> Graph:
    """Random DAGs: a node depends only on nodes earlier in a shuffled order, plus externals."""
    order = draw(st.permutations(NODES))[: draw(st.integers(1, len(NODES)))]
    graph: Graph = {}
    for index, node in enumerate(order):
        earlier = st.sampled_from(order[:index]) if index else st.nothing()
        deps = draw(st.lists(earlier | st.just("external"), max_size=4))
        graph[node] = deps
    return draw(st.permutations(list(graph.items())).map(dict))


@st.composite
def cyclic_graphs(draw: st.DrawFn) -> Graph:
    """Random graphs with a cycle planted somewhere among arbitrary extra edges."""
    graph = {node: list(deps) for node, deps in draw(dags()).items()}
    nodes = list(graph)
    ring = draw(st.lists(st.sampled_from(nodes), min_size=1, max_size=len(nodes), unique=True))
    for node, dep in zip(ring, [*ring[1:], ring[0]], strict=True):
        graph[node].append(dep)
    for node in nodes:
        graph[node].extend(draw(st.lists(st.sampled_from(nodes), max_size=2)))
    return graph


def is_cycle(graph: Mapping[str, Sequence[str]], cycle: list[str]) -> bool:
    edges = zip(cycle, [*cycle[1:], cycle[0]], strict=True)
    return len(set(cycle)) == len(cycle) > 0 and all(dep in graph[node] for node, dep in edges)


def respects_dependencies(graph: Mapping[str, Sequence[str]], order: list[str]) -> bool:
    position = {node: index for index, node in enumerate(order)}
    return sorted(order) == sorted(graph) and all(
        position[dep] < position[node]
        for node, deps in graph.items()
        for dep in deps
        if dep in graph
    )


@given(cyclic_graphs())
def test_find_cycle_returns_a_real_cycle(graph: Graph) -> None:
    cycle = find_cycle(graph)
    assert cycle is not None
    assert is_cycle(graph, cycle)


@given(dags())
def test_find_cycle_finds_none_in_a_dag(graph: Graph) -> None:
    assert find_cycle(graph) is None


@given(st.dictionaries(st.sampled_from(NODES), st.lists(st.sampled_from([*NODES, "external"]))))
def test_any_graph_has_either_a_cycle_or_a_valid_order(graph: Graph) -> None:
    cycle = find_cycle(graph)
    if cycle is None:
        assert respects_dependencies(graph, topological_order(graph))
    else:
        assert is_cycle(graph, cycle)
        with pytest.raises(CycleError):
            topological_order(graph)


@given(dags())
def test_topological_order_puts_dependencies_first(graph: Graph) -> None:
    assert respects_dependencies(graph, topological_order(graph))


def test_cycle_error_names_the_nodes_of_the_cycle() -> None:
    graph = {"extract": ["load"], "transform": ["extract"], "load": ["transform"], "report": []}
    with pytest.raises(CycleError) as caught:
        validate_workflow(graph)
    cycle = caught.value.cycle
    assert sorted(cycle) == ["extract", "load", "transform"]
    assert " -> ".join([*cycle, cycle[0]]) in str(caught.value)
    assert "report" not in str(caught.value)


def test_self_dependency_is_a_validation_error() -> None:
    with pytest.raises(ValidationError, match="'fetch' depends on itself") as caught:
        validate_workflow({"fetch": ["fetch"], "parse": ["fetch"]})
    assert not isinstance(caught.value, CycleError)


def test_unknown_dependencies_are_named() -> None:
    graph = {"fetch": [], "parse": ["fetch", "ghost", "phantom"]}
    with pytest.raises(ValidationError, match=r"'parse' depends on unknown task.*ghost, phantom"):
        validate_workflow(graph)


def test_external_dependencies_are_accepted_and_left_out_of_the_order() -> None:
    graph = {"parse": ["fetch", "task-41"], "fetch": ["task-40"]}
    order = validate_workflow(graph, external=frozenset({"task-40", "task-41"}))
    assert order == ["fetch", "parse"]


def test_dependents_count_counts_direct_dependents_once() -> None:
    graph = {"a": [], "b": ["a"], "c": ["a", "b", "a"], "d": ["c", "external"]}
    assert dependents_count(graph) == {"a": 2, "b": 1, "c": 1, "d": 0}
