"""Resource allocation: highest priority first, never over capacity, every refusal real."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from imperium.services.planning.allocation import (
    RESOURCES,
    TOLERANCE,
    Amounts,
    Request,
    allocate,
    rank_order,
)


def req(task_id: str, key: float, cpu: float = 0, memory: float = 0, gpu: float = 0) -> Request:
    return Request(task_id, Amounts(cpu, memory, gpu), key, score=key)


def test_highest_priority_first_and_smaller_tasks_fill_what_is_left() -> None:
    plan = allocate(
        Amounts(cpu=8, memory=4096, gpu=1),
        [
            req("low", 10, cpu=2),
            req("top", 90, cpu=4, gpu=1),
            req("too-big", 70, cpu=4, gpu=1),
            req("mid", 40, cpu=2, memory=4096),
        ],
    )
    assert [r.task_id for r in plan.allocations] == ["top", "mid", "low"]
    (missed,) = plan.unallocated
    assert missed.request.task_id == "too-big"
    assert [(s.resource, s.requested, s.available, s.short_by) for s in missed.shortfalls] == [
        ("gpu", 1, 0, 1)
    ]
    assert missed.reason == "needs 1 gpu, 0 left (short by 1)"
    assert plan.remaining == Amounts(cpu=0, memory=0, gpu=0)


def test_every_short_resource_is_named() -> None:
    plan = allocate(Amounts(cpu=1, memory=100, gpu=0), [req("t", 1, cpu=2.5, memory=612, gpu=2)])
    (missed,) = plan.unallocated
    assert [s.resource for s in missed.shortfalls] == ["cpu", "memory", "gpu"]
    assert missed.reason == (
        "needs 2.5 cpu, 1 left (short by 1.5); needs 612 memory, 100 left (short by 512); "
        "needs 2 gpu, 0 left (short by 2)"
    )


def test_amounts_that_add_up_exactly_fit() -> None:
    plan = allocate(Amounts(cpu=0.3), [req("a", 2, cpu=0.1), req("b", 1, cpu=0.2)])
    assert [r.task_id for r in plan.allocations] == ["a", "b"]
    assert plan.unallocated == ()


def test_ties_in_input_order_and_no_capacity_needed_for_nothing() -> None:
    plan = allocate(Amounts(), [req("x", 5), req("y", 5), req("z", 5, gpu=1)])
    assert [r.task_id for r in plan.allocations] == ["x", "y"]
    assert [u.request.task_id for u in plan.unallocated] == ["z"]


amount = st.floats(min_value=0, max_value=100) | st.sampled_from([0.0, 0.1, 0.2, 0.3, 1.0])
requests = st.lists(
    st.builds(
        Request,
        task_id=st.text(min_size=1, max_size=3),
        wants=st.builds(Amounts, amount, amount, amount),
        key=st.floats(min_value=-1e6, max_value=1e6),
        score=st.floats(min_value=0, max_value=100),
    ),
    max_size=40,
)
capacity = st.builds(
    Amounts,
    st.floats(min_value=0, max_value=500),
    st.floats(min_value=0, max_value=500),
    st.floats(min_value=0, max_value=500),
)


@given(capacity, requests)
def test_never_over_allocates(cap: Amounts, reqs: list[Request]) -> None:
    plan = allocate(cap, reqs)
    assert len(plan.allocations) + len(plan.unallocated) == len(reqs)
    for name in RESOURCES:
        used = math.fsum(r.wants.get(name) for r in plan.allocations)
        assert used <= cap.get(name) + TOLERANCE * (len(reqs) + 1)
        assert plan.remaining.get(name) >= 0


@given(capacity, requests)
def test_an_unallocated_task_did_not_fit_when_its_turn_came(
    cap: Amounts, reqs: list[Request]
) -> None:
    plan = allocate(cap, reqs)
    placed = {id(r) for r in plan.allocations}
    missed = {id(u.request): u for u in plan.unallocated}
    left = {name: cap.get(name) for name in RESOURCES}
    for r in rank_order(reqs):  # replay the turns, highest rank first
        fits = all(r.wants.get(n) <= left[n] + TOLERANCE for n in RESOURCES)
        if id(r) in placed:
            assert fits
            for n in RESOURCES:
                left[n] = max(0.0, left[n] - r.wants.get(n))
        else:
            assert not fits
            short = missed[id(r)].shortfalls
            assert {s.resource for s in short} == {
                n for n in RESOURCES if r.wants.get(n) > left[n] + TOLERANCE
            }
            for s in short:
                assert s.short_by > TOLERANCE
                assert s.requested == r.wants.get(s.resource)
                assert s.available == left[s.resource]


@given(capacity, requests)
def test_allocations_follow_the_rank(cap: Amounts, reqs: list[Request]) -> None:
    plan = allocate(cap, reqs)
    order = {id(r): i for i, r in enumerate(rank_order(reqs))}
    positions = [order[id(r)] for r in plan.allocations]
    assert positions == sorted(positions)
