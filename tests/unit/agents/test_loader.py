"""Finding agent implementations by entry point or import path."""

from __future__ import annotations

import pytest

from imperium.agents.base import Agent, TaskContext, agent
from imperium.agents.echo import EchoAgent
from imperium.agents.loader import available_types, load_agent_class
from imperium.domain.errors import AgentLoadError


def test_echo_is_an_installed_entry_point() -> None:
    assert "echo" in available_types()
    assert load_agent_class("echo") is EchoAgent


def test_import_paths_to_classes_and_functions() -> None:
    flaky = load_agent_class("tests.support.agents:Flaky")
    assert issubclass(flaky, Agent)
    assert flaky.__name__ == "Flaky"
    double = load_agent_class("tests.support.agents:blocking_double")
    assert issubclass(double, Agent)
    assert double.blocking is True


@pytest.mark.parametrize(
    ("agent_type", "message"),
    [
        ("nonexistent", "unknown agent type 'nonexistent'"),
        ("no_such_pkg.mod:fn", "cannot import module 'no_such_pkg.mod'"),
        ("tests.support.agents:missing", "has no attribute 'missing'"),
        ("tests.support.agents:__doc__", "neither an Agent subclass nor a function"),
        ("remote", "no local implementation"),
    ],
)
def test_bad_types_say_what_to_do(agent_type: str, message: str) -> None:
    with pytest.raises(AgentLoadError, match=message):
        load_agent_class(agent_type)


async def test_decorator_wraps_async_and_blocking_functions() -> None:
    @agent
    async def shout(ctx: TaskContext) -> str:
        """Upper-cases the payload."""
        return str(ctx.payload).upper()

    @agent(name="Counter")
    def count(ctx: TaskContext) -> int:
        return len(ctx.payload)

    ctx = TaskContext("t", "job", "abc", 1, "a")
    assert (shout.blocking, shout.description) == (False, "Upper-cases the payload.")
    assert await shout().run(ctx) == "ABC"
    assert (count.__name__, count.blocking) == ("Counter", True)
    assert await count().run(ctx) == 3
