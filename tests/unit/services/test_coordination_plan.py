"""Coordination requests become one workflow: domains, payloads, dependencies, refusals."""

from __future__ import annotations

from typing import Any

import pytest

from imperium.domain.errors import CycleError, ValidationError
from imperium.domain.models import Task
from imperium.domain.states import TaskState
from imperium.services.planning.coordination import Coordination, plan_coordination, seed_status


def test_domains_become_named_tasks_with_their_specs_as_payload() -> None:
    plan = plan_coordination(
        ["marketing", "image_generation", "video"],
        {
            "image_generation": {"prompt": "Product showcase", "resolution": "8K"},
            "marketing": {"campaign_type": "launch", "depends_on": ["image_generation"]},
        },
    )
    tasks = {t.name: t for t in plan.workflow.tasks}
    assert [t.name for t in plan.workflow.tasks] == ["marketing", "image_generation", "video"]
    assert {t.type for t in tasks.values()} == set(tasks)  # type (capability) = domain
    assert tasks["marketing"].payload == {"campaign_type": "launch"}
    assert tasks["marketing"].depends_on == ("image_generation",)
    assert tasks["video"].payload == {}
    assert plan.dependencies == {
        "marketing": ["image_generation"],
        "image_generation": [],
        "video": [],
    }
    order = list(plan.execution_order)
    assert sorted(order) == ["image_generation", "marketing", "video"]
    assert order.index("image_generation") < order.index("marketing")


def test_the_seed_spelling_dependencies_is_accepted() -> None:
    plan = plan_coordination(["a", "b"], {"b": {"dependencies": ["a", "a"]}})
    assert plan.dependencies == {"a": [], "b": ["a"]}
    assert plan.execution_order == ("a", "b")


@pytest.mark.parametrize(
    ("domains", "specs", "phrase"),
    [
        (["a", "b", "a"], {}, "domain 'a' is listed twice"),
        (["a"], {"b": {}}, "task_specs has specs for b, which domains does not list"),
        (["a"], {"a": {"depends_on": ["z"]}}, "task_specs.a.depends_on names z"),
        (["a", "b"], {"a": {"depends_on": ["b"], "dependencies": ["b"]}}, "use one of them"),
        (["a"], {"a": {"depends_on": "b"}}, "must be a list of domain names"),
        (["a"], {"a": {"depends_on": ["a"]}}, "depends on itself"),
    ],
)
def test_bad_requests_are_refused_with_what_to_fix(
    domains: list[str], specs: dict[str, dict[str, Any]], phrase: str
) -> None:
    with pytest.raises(ValidationError, match=phrase):
        plan_coordination(domains, specs)


def test_a_cycle_is_named() -> None:
    specs = {"a": {"depends_on": ["c"]}, "b": {"depends_on": ["a"]}, "c": {"depends_on": ["b"]}}
    with pytest.raises(CycleError, match="a -> c -> b -> a"):
        plan_coordination(["a", "b", "c"], specs)


SEED_WORDS = [
    (TaskState.SUCCEEDED, "completed"),
    (TaskState.FAILED, "failed"),
    (TaskState.DEAD, "failed"),
    (TaskState.TIMED_OUT, "failed"),
    (TaskState.CANCELLED, "failed"),
    (TaskState.SUBMITTED, "running"),
    (TaskState.PENDING, "running"),
    (TaskState.QUEUED, "running"),
    (TaskState.RUNNING, "running"),
]


@pytest.mark.parametrize(("state", "word"), SEED_WORDS)
def test_task_states_are_reported_in_the_seed_s_words(state: TaskState, word: str) -> None:
    assert seed_status(state) == word


@pytest.mark.parametrize(
    ("states", "overall"),
    [
        ((TaskState.SUCCEEDED, TaskState.SUCCEEDED), "completed"),
        ((TaskState.SUCCEEDED, TaskState.CANCELLED), "failed"),
        ((TaskState.TIMED_OUT, TaskState.DEAD), "failed"),
        ((TaskState.FAILED, TaskState.QUEUED), "running"),
        ((TaskState.SUCCEEDED, TaskState.PENDING), "running"),
    ],
)
def test_the_coordination_status_agrees_with_its_domains(
    states: tuple[TaskState, ...], overall: str
) -> None:
    domains = [f"d{i}" for i in range(len(states))]
    plan = plan_coordination(domains, {})
    tasks = {
        d: Task(id=d, type=d, created_at=0.0, state=s) for d, s in zip(domains, states, strict=True)
    }
    run = Coordination(plan, "w-1", tasks, ended=all(s.is_terminal for s in states))
    assert run.status == overall
    assert run.status in {"completed", "failed", "running"}
