"""Objective decomposition: stages, clauses, matching against agents, dependencies."""

from __future__ import annotations

import pytest

from imperium.domain.errors import ValidationError
from imperium.domain.models import AgentSpec
from imperium.domain.states import AgentStatus
from imperium.services.planning.strategy import MAX_PHASES, plan_strategy, stages_of
from imperium.services.planning.words import description_terms, stem, terms


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("marketing", "market"),
        ("market", "market"),
        ("images", "imag"),
        ("image", "imag"),
        ("processes", "process"),
        ("processing", "process"),
        ("scanning", "scan"),
        ("summaries", "summary"),
        ("deployment", "deploy"),
        ("class", "class"),
        ("ai", "ai"),
    ],
)
def test_stems(word: str, expected: str) -> None:
    assert stem(word) == expected


def test_terms_drop_function_words_and_split_names() -> None:
    assert terms("Launch the new product") == {"launch", "product"}
    assert terms("image_generation") == {"imag", "gener"}
    assert description_terms("Writes and runs reports") == {"report"}


@pytest.mark.parametrize(
    ("objective", "stages"),
    [
        ("scan the code", [["scan the code"]]),
        ("scan the code and test it, then report", [["scan the code", "test it"], ["report"]]),
        ("fetch; parse. Finally publish", [["fetch"], ["parse"], ["publish"]]),
        ("build v1.2 -> ship it", [["build v1.2"], ["ship it"]]),
        ("fetch, and then the", [["fetch"]]),  # clauses without content words are dropped
    ],
)
def test_stages_and_clauses(objective: str, stages: list[list[str]]) -> None:
    assert stages_of(objective) == stages


def agent(
    agent_id: str,
    *caps: str,
    description: str = "",
    status: AgentStatus = AgentStatus.ACTIVE,
) -> AgentSpec:
    return AgentSpec(
        id=agent_id,
        type="echo",
        capabilities=frozenset(caps or (agent_id,)),
        description=description,
        status=status,
    )


AGENTS = [
    agent("seo", "marketing", "copywriting"),
    agent("ads", "marketing"),
    agent("scanner", "code_scan", description="Finds security issues in source code"),
    agent("painter", "image_generation", status=AgentStatus.PAUSED),
    agent("old", "reporting", status=AgentStatus.RETIRED),
]


def test_phases_follow_stages_and_name_their_agents() -> None:
    strategy = plan_strategy(
        "Scan the code and generate images, then launch a marketing campaign; write a report",
        AGENTS,
        unavailable={"ads": "remote agent that has not connected yet"},
    )
    got = [(p.phase_id, p.stage, p.capability, p.match, p.dependencies) for p in strategy.phases]
    assert got == [
        ("phase_1", 1, "code_scan", "capability", ()),
        ("phase_2", 1, "image_generation", "capability", ()),
        ("phase_3", 2, "marketing", "capability", ("phase_1", "phase_2")),
        ("phase_4", 3, None, "none", ("phase_3",)),  # the retired reporter is not offered
    ]
    scan, images, marketing, report = strategy.phases
    assert (scan.agents, scan.matched_terms, scan.executable) == (
        ("scanner",),
        ("code", "scan"),
        True,
    )
    assert images.agents == ()
    assert images.unavailable == (("painter", "paused"),)
    assert not images.executable
    assert marketing.agents == ("seo",)
    assert marketing.unavailable == (("ads", "remote agent that has not connected yet"),)
    assert (report.description, report.agents, report.executable) == ("write a report", (), False)
    assert strategy.stages == 3
    assert strategy.dependency_edges == 3
    assert strategy.complexity == 4 + 3


def test_descriptions_match_when_no_capability_is_named() -> None:
    strategy = plan_strategy("look for security problems", AGENTS, {})
    (phase,) = strategy.phases
    assert (phase.capability, phase.match, phase.matched_terms) == (
        "code_scan",
        "description",
        ("security",),
    )


def test_the_most_fully_named_capability_comes_first() -> None:
    agents = [agent("a", "image_generation"), agent("b", "image")]
    phases = plan_strategy("image work", agents, {}).phases
    assert [p.capability for p in phases] == ["image", "image_generation"]


def test_the_plan_does_not_depend_on_the_order_of_agents() -> None:
    objective = "scan code, then marketing"
    assert plan_strategy(objective, AGENTS, {}) == plan_strategy(objective, AGENTS[::-1], {})


@pytest.mark.parametrize("objective", ["", "   ", "the and of, then a"])
def test_an_objective_without_words_is_refused(objective: str) -> None:
    with pytest.raises(ValidationError, match="no words to plan from"):
        plan_strategy(objective, AGENTS, {})


def test_an_objective_with_too_many_phases_is_refused() -> None:
    objective = " and ".join(f"w{i}" for i in range(MAX_PHASES + 1))
    with pytest.raises(ValidationError, match=f"gives {MAX_PHASES + 1} phases; the limit is 200"):
        plan_strategy(objective, AGENTS, {})
    assert len(plan_strategy(objective.rsplit(" and ", 1)[0], AGENTS, {}).phases) == MAX_PHASES
