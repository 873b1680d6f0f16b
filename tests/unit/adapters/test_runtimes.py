"""Each agent runs where its runtime says: this process or Ray; registering one with
runtime ray on a server without Ray names the extra to install."""

from __future__ import annotations

import pytest

from imperium.adapters.executors import runtimes
from imperium.adapters.executors.runtimes import RuntimeExecutor, runtime_of
from imperium.adapters.executors.stub import StubExecutor
from imperium.domain.errors import AgentLoadError
from imperium.domain.models import AgentSpec
from imperium.ports import Attempt
from imperium.runtime import check_agent_type


def spec(agent_id: str, **config: object) -> AgentSpec:
    return AgentSpec(id=agent_id, type="echo", config=dict(config))


def attempt(task_id: str, agent_id: str) -> Attempt:
    return Attempt(task_id, "t", None, 1, 1, agent_id, 1.0, None, {})


def test_agents_go_to_the_executor_of_their_runtime() -> None:
    local, ray = StubExecutor(), StubExecutor()
    executor = RuntimeExecutor(local, lambda: ray)
    executor.prepare(spec("here"))
    executor.prepare(spec("there", runtime="ray"))
    executor.start(attempt("t1", "here"), lambda *_: None)
    executor.start(attempt("t2", "there"), lambda *_: None)
    assert ([a.task_id for a in local.started], [a.task_id for a in ray.started]) == (
        ["t1"],
        ["t2"],
    )
    executor.cancel("t2")
    assert (local.cancelled, ray.cancelled) == ([], ["t2"])
    assert executor.running() == 1


def test_the_server_default_runtime_applies_when_the_config_says_none() -> None:
    made: list[StubExecutor] = []
    executor = RuntimeExecutor(StubExecutor(), lambda: made.append(StubExecutor()) or made[-1],
                               default_runtime="ray")  # fmt: skip
    executor.prepare(spec("a"))
    executor.prepare(spec("b", runtime="local"))
    assert len(made) == 1
    assert list(made[0].prepared) == ["a"]


def test_an_unknown_runtime_is_refused() -> None:
    with pytest.raises(AgentLoadError, match="unknown runtime 'k8s'"):
        runtime_of(spec("a", runtime="k8s"), "local")


def test_without_ray_registering_a_ray_agent_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(runtimes, "missing", lambda *modules: modules)
    with pytest.raises(AgentLoadError) as caught:
        check_agent_type(spec("a", runtime="ray"))
    assert str(caught.value) == (
        "an agent with runtime ray needs ray, which is not installed: pip install 'imperium[ray]'"
    )
    check_agent_type(spec("b"))  # a local agent is fine


def test_without_ray_the_scheduler_cannot_load_a_ray_agent(monkeypatch: pytest.MonkeyPatch) -> None:
    """prepare raises, which the engine records as agent.load_failed (not loaded), with
    the same message."""
    monkeypatch.setattr(runtimes, "missing", lambda *modules: modules)
    executor = RuntimeExecutor(StubExecutor(), StubExecutor)
    with pytest.raises(AgentLoadError, match=r"pip install 'imperium\[ray\]'"):
        executor.prepare(spec("a", runtime="ray"))
