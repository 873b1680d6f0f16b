"""Seed tasks ranked by the engine's priority score: the field mapping and the order."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imperium.domain.errors import ValidationError
from imperium.domain.priority import PriorityFeatures, level_for_score, ordering_key, raw_score
from imperium.domain.states import PriorityLevel
from imperium.services.planning.priority import (
    SeedTask,
    dependents_within,
    features_of,
    parse_priority,
    rank,
)

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("given_value", "level"),
    [
        ("critical", PriorityLevel.CRITICAL),
        ("HIGH", PriorityLevel.HIGH),
        (" medium ", PriorityLevel.NORMAL),
        ("normal", PriorityLevel.NORMAL),
        ("background", PriorityLevel.BACKGROUND),
        (1, PriorityLevel.CRITICAL),
        (2, PriorityLevel.HIGH),
        (3, PriorityLevel.NORMAL),
        (4, PriorityLevel.LOW),
        (5, PriorityLevel.BACKGROUND),
    ],
)
def test_priority_names_and_numbers(given_value: str | int, level: PriorityLevel) -> None:
    assert parse_priority(given_value) is level


@pytest.mark.parametrize(
    ("given_value", "phrase"),
    [
        ("urgent", "priority 'urgent' is unknown"),
        (0, "priority 0 is not a level number"),
        (6, "5 (background)"),
        (True, "level name or number"),
    ],
)
def test_bad_priorities_say_what_is_allowed(given_value: str | int, phrase: str) -> None:
    with pytest.raises(ValidationError, match="critical") as err:
        parse_priority(given_value)
    assert phrase in str(err.value)


def test_dependents_are_the_tasks_that_list_an_id() -> None:
    tasks = [
        SeedTask(task_id="a"),
        SeedTask(task_id="b", dependencies=("a", "a")),  # listed twice: counts once
        SeedTask(task_id="c", dependencies=("a", "b", "c", "elsewhere")),  # itself: ignored
        SeedTask(dependencies=("a",)),
    ]
    assert dependents_within(tasks) == [3, 1, 0, 0]


def test_fields_map_onto_the_engine_score() -> None:
    task = SeedTask(
        level=PriorityLevel.LOW,
        created_at=NOW - 600,
        deadline=NOW - 1,
        estimated_duration=0.5,
        cpu=4,
        memory_mb=8192,
        gpu=1,
    )
    f = features_of(task, dependents=2, now=NOW)
    assert f == PriorityFeatures(PriorityLevel.LOW, NOW - 600, NOW - 1, 2, 0.5, 4, 1, 8192)
    # low 20 + overdue 20 + 10 minutes 10 + dependents 2 + <=1 s 5 + resources max(0, 5-1-2-1)
    (ranked,) = rank([task], NOW)
    assert ranked.score == pytest.approx(20 + 20 + 10 + 0 + 5 + 1)
    assert ranked.points == pytest.approx(
        {
            "level": 20,
            "deadline_urgency": 20,
            "age": 10,
            "dependents": 0,
            "estimated_duration": 5,
            "resources": 1,
        }
    )


def test_a_task_without_created_at_is_new() -> None:
    (ranked,) = rank([SeedTask(level=PriorityLevel.CRITICAL)], NOW)
    assert ranked.points["age"] == 0
    assert ranked.score == 90 + 2 + 5  # unknown duration 2, no resources 5
    assert ranked.level is PriorityLevel.CRITICAL


def test_a_dependency_lifts_the_task_others_wait_on() -> None:
    tasks = [SeedTask(task_id="x"), SeedTask(task_id="y", dependencies=("x",))]
    first, second = rank(tasks, NOW)
    assert (first.index, second.index) == (0, 1)
    assert first.score == second.score + 1


def test_ties_keep_the_input_order() -> None:
    ranked = rank([SeedTask(task_id=str(i)) for i in range(5)], NOW)
    assert [r.index for r in ranked] == [0, 1, 2, 3, 4]


times = st.floats(min_value=NOW - 10 * 86400, max_value=NOW + 10 * 86400)
seed_tasks = st.builds(
    SeedTask,
    task_id=st.sampled_from(["a", "b", "c", "d"]) | st.none(),
    level=st.sampled_from(PriorityLevel),
    created_at=st.none() | times,
    deadline=st.none() | times,
    estimated_duration=st.none() | st.floats(min_value=0, max_value=1e6),
    cpu=st.floats(min_value=0, max_value=1024),
    memory_mb=st.floats(min_value=0, max_value=1_024_000),
    gpu=st.floats(min_value=0, max_value=64),
    dependencies=st.lists(st.sampled_from(["a", "b", "c", "d"]), max_size=4).map(tuple),
)


@given(st.lists(seed_tasks, max_size=30))
def test_ranking_is_the_engine_dispatch_order(tasks: list[SeedTask]) -> None:
    ranked = rank(tasks, NOW)
    assert sorted(r.index for r in ranked) == list(range(len(tasks)))
    dependents = dependents_within(tasks)
    keys = [
        ordering_key(features_of(tasks[r.index], dependents[r.index], NOW), NOW) for r in ranked
    ]
    assert keys == sorted(keys, reverse=True)
    for r in ranked:
        f = features_of(tasks[r.index], dependents[r.index], NOW)
        assert 0 <= r.score <= 100
        assert r.score == pytest.approx(min(100.0, raw_score(f, NOW)))
        assert r.level is level_for_score(r.score)
        assert math.fsum(r.points.values()) == pytest.approx(raw_score(f, NOW))
