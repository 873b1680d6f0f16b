"""A task's resources as a Ray request, and whether a cluster's totals can ever hold it
(no Ray needed)."""

from __future__ import annotations

import pytest

from imperium.adapters.executors.ray import lost_kind
from imperium.adapters.executors.ray_requests import (
    MIB,
    ray_options,
    ray_request,
    shortfall,
    unrequestable,
)


@pytest.mark.parametrize(
    ("resources", "options"),
    [
        ({}, {"num_cpus": 1}),
        ({"cpu": 2}, {"num_cpus": 2}),
        ({"cpu": 0.5, "gpu": 1}, {"num_cpus": 0.5, "num_gpus": 1}),
        ({"memory_mb": 512}, {"num_cpus": 1, "memory": 512 * MIB}),
        ({"A100": 1, "gpu": 0}, {"num_cpus": 1, "resources": {"A100": 1}}),
    ],
)
def test_resources_become_ray_options(resources: dict[str, float], options: dict) -> None:
    assert ray_options(resources, default_cpus=1) == options


def test_an_actor_holds_no_cpu_unless_asked() -> None:
    assert ray_options({}, default_cpus=0) == {"num_cpus": 0}


TOTALS = {"CPU": 4.0, "memory": 8 * 1024 * MIB, "A": 1.0}


@pytest.mark.parametrize(
    ("resources", "reason"),
    [
        ({"cpu": 4, "A": 1, "memory_mb": 1024}, None),
        ({"gpu": 0}, None),
        ({"gpu": 1}, "it needs GPU=1 (the largest node has GPU=0)"),
        (
            {"cpu": 8, "B": 1},
            "it needs CPU=8 (the largest node has CPU=4), B=1 (the largest node has B=0)",
        ),
        ({"memory_mb": 16384}, "it needs memory_mb=16384 (the largest node has memory_mb=8192)"),
    ],
)
def test_shortfall_names_what_no_node_has(resources: dict[str, float], reason: str | None) -> None:
    found = shortfall(resources, [TOTALS])
    if reason is None:
        assert found is None
    else:
        assert found == f"no node of the Ray cluster can satisfy it: {reason}"


@pytest.mark.parametrize(
    ("resources", "refused"),
    [
        ({"cpu": 0.0001, "gpu": 0, "A100": 2.5}, None),
        ({"memory_mb": 0.00001}, None),  # asked in bytes
        ({"cpu": 0.00005}, "cpu=5e-05"),
        ({"cpu": 1, "A100": 1e-9, "gpu": 0.00009}, "A100=1e-09, gpu=9e-05"),
    ],
)
def test_amounts_below_rays_precision_are_refused_with_the_reason(
    resources: dict[str, float], refused: str | None
) -> None:
    found = unrequestable(resources)
    if refused is None:
        assert found is None
    else:
        assert found == (
            f"Ray cannot request {refused}: its smallest amount of a resource is 0.0001 "
            "(ask for 0 or at least that)"
        )


def test_ray_request_keeps_custom_names() -> None:
    assert ray_request({"cpu": 1, "TPU-v4": 2}) == {"CPU": 1, "TPU-v4": 2}


class WorkerCrashedError(Exception):
    pass


class RayActorError(Exception):
    pass


class ActorDiedError(RayActorError):
    pass


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (WorkerCrashedError(), "ray_worker_died"),
        (ActorDiedError(), "ray_actor_died"),  # by its base class's name
        (ValueError(), None),
    ],
)
def test_lost_kinds_by_ray_error(exc: Exception, kind: str | None) -> None:
    assert lost_kind(exc) == kind


TWO_NODES = [{"CPU": 2.0, "GPU": 1.0}, {"CPU": 2.0, "GPU": 1.0, "A": 1.0}]


@pytest.mark.parametrize(
    ("resources", "reason"),
    [
        ({"gpu": 1, "A": 1}, None),
        ({"gpu": 2}, "it needs GPU=2 (the largest node has GPU=1)"),  # 2 in all, 1 per node
        ({"cpu": 3}, "it needs CPU=3 (the largest node has CPU=2)"),
        ({}, None),
    ],
)
def test_a_request_must_fit_one_node(resources: dict[str, float], reason: str | None) -> None:
    found = shortfall(resources, TWO_NODES)
    assert found == (
        None if reason is None else f"no node of the Ray cluster can satisfy it: {reason}"
    )


def test_a_request_split_over_nodes_names_it() -> None:
    nodes = [{"CPU": 1.0, "GPU": 1.0}, {"CPU": 1.0, "A": 1.0}]
    assert shortfall({"gpu": 1, "A": 1}, nodes) == (
        "no node of the Ray cluster can satisfy it: it needs GPU=1, A=1 on one node, "
        "and no node has all of it"
    )
