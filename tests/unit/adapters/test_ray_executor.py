"""The Ray executor's bookkeeping against a fake ``ray`` module (no Ray needed): a submit
Ray refuses, node totals, actor pools that resize and skip actors that died idle."""

from __future__ import annotations

import asyncio
import threading
from types import SimpleNamespace
from typing import Any

import pytest

from imperium.adapters.executors import ray as ray_executor
from imperium.adapters.executors import ray_connection
from imperium.adapters.executors.ray import RayExecutor
from imperium.domain.errors import AgentLoadError
from imperium.domain.models import AgentSpec, AttemptResult
from imperium.domain.states import Outcome
from imperium.ports import Attempt


class ActorDiedError(Exception):
    """Named as Ray's: an actor that died (``actor_init_failed``: in its constructor)."""

    def __init__(self, message: str, actor_init_failed: bool = False) -> None:
        super().__init__(message)
        self.actor_init_failed = actor_init_failed


class Ref:
    """An awaitable Ray object reference; ``pending`` ones never resolve."""

    def __init__(self, value: Any = None, error: BaseException | None = None) -> None:
        self.value, self.error = value, error
        self.pending = asyncio.get_running_loop().create_future() if value is None else None

    def __await__(self) -> Any:
        return self._get().__await__()

    async def _get(self) -> Any:
        if self.pending is not None:
            await self.pending
        if self.error is not None:
            raise self.error
        return self.value


class Actor:
    def __init__(self, ray: FakeRay) -> None:
        self.ray, self.dead = ray, False
        self.run = SimpleNamespace(remote=self._run)
        self.alive = SimpleNamespace(remote=lambda: self._answer(True))

    def _run(self, fields: dict[str, Any]) -> Ref:
        return self._answer(AttemptResult(Outcome.SUCCEEDED, {"actor": id(self)}))

    def _answer(self, value: Any) -> Ref:
        if self.ray.init_fails:
            error = ActorDiedError(
                "The actor died because of an error raised in its creation task, "
                'ray::AgentActor.__init__() (pid=1)\n  File "agent.py", line 3\n'
                "ValueError: no model at /models/x",
                actor_init_failed=True,
            )
            return Ref(value, error)
        return Ref(value, ActorDiedError("the actor died") if self.dead else None)


class Remote:
    def __init__(self, ray: FakeRay, target: Any) -> None:
        self.ray, self.target = ray, target

    def options(self, **options: Any) -> Remote:
        if options.get("num_cpus", 0) and options["num_cpus"] < 0.0001:
            raise ValueError("The precision of the fractional quantity of resource CPU "
                             "cannot go beyond 0.0001")  # fmt: skip
        return self

    def remote(self, *args: Any) -> Any:
        if isinstance(self.target, type):
            if self.ray.creation_fails:
                raise RuntimeError("actor creation failed")
            self.ray.actors.append(Actor(self.ray))
            return self.ray.actors[-1]
        if self.ray.hold:
            return Ref()
        return Ref(AttemptResult(Outcome.SUCCEEDED, args[0]["payload"]))


class FakeRay:
    exceptions = SimpleNamespace(TaskCancelledError=type("TCE", (Exception,), {}),
                                 RayTaskError=type("RTE", (Exception,), {}))  # fmt: skip

    def __init__(self) -> None:
        self.node_resources = [{"CPU": 2.0, "GPU": 1.0}, {"CPU": 2.0, "GPU": 1.0}]
        self.actors: list[Actor] = []
        self.killed: list[Actor] = []
        self.creation_fails = False
        self.init_fails = False
        self.hold = False

    def remote(self, **_: Any) -> Any:
        return lambda target: Remote(self, target)

    def cancel(self, ref: Ref, force: bool) -> None:
        pass

    def kill(self, actor: Actor, no_restart: bool) -> None:
        self.killed.append(actor)

    def nodes(self) -> list[dict[str, Any]]:
        return [{"Alive": True, "Resources": r} for r in self.node_resources]

    def cluster_resources(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for node in self.node_resources:
            for name, amount in node.items():
                totals[name] = totals.get(name, 0.0) + amount
        return totals


@pytest.fixture(autouse=True)
def no_sleep_between_tries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ray_connection, "FIRST_RETRY_SECONDS", 0.05)


@pytest.fixture
def ray(monkeypatch: pytest.MonkeyPatch) -> FakeRay:
    fake = FakeRay()
    monkeypatch.setattr(ray_executor, "connect_ray", lambda *_: fake)
    return fake


async def prepared(executor: RayExecutor, agent: AgentSpec) -> None:
    """Prepare ``agent``, as the scheduler does: refused until Ray is connected (in a
    thread), then loaded again when the executor names it reloadable."""
    try:
        executor.prepare(agent)
        return
    except AgentLoadError:
        pass
    for _ in range(200):
        if executor.reloadable() == [agent.id]:
            executor.prepare(agent)
            return
        executor.capacity_changed()
        await asyncio.sleep(0.01)
    raise AssertionError("never connected")


def spec(max_concurrency: int = 1, **config: Any) -> AgentSpec:
    return AgentSpec(id="a", type="echo", max_concurrency=max_concurrency, config=config)


def attempt(task_id: str, resources: dict[str, float] | None = None, token: int = 1) -> Attempt:
    return Attempt(task_id, "t", task_id, 1, token, "a", 1.0, None, resources or {})


class Reports(list[tuple[str, AttemptResult]]):
    def __call__(self, task_id: str, token: int, result: AttemptResult) -> None:
        self.append((task_id, result))

    async def count(self, n: int) -> None:
        for _ in range(100):
            if len(self) >= n:
                return
            await asyncio.sleep(0)
        raise AssertionError(f"{len(self)} reports, expected {n}")


async def test_a_request_ray_refuses_is_reported_lost_at_once(ray: FakeRay) -> None:
    executor, reports = RayExecutor(), Reports()
    await prepared(executor, spec())
    executor.start(attempt("t1", {"cpu": 0.00005}), reports)
    assert [(t, r.outcome, r.error_kind) for t, r in reports] == [
        ("t1", Outcome.LOST, "ray_submit_failed")
    ]
    assert "cannot go beyond 0.0001" in (reports[0][1].error_message or "")
    assert executor.running() == 0


async def test_an_actor_that_cannot_be_made_holds_no_place_in_its_pool(ray: FakeRay) -> None:
    executor, reports = RayExecutor(), Reports()
    await prepared(executor, spec(stateful=True))
    ray.creation_fails = True
    executor.start(attempt("t1"), reports)
    assert (reports[0][1].outcome, reports[0][1].error_kind) == (Outcome.LOST, "ray_submit_failed")
    ray.creation_fails = False
    for n, task_id in enumerate(["t2", "t3"], start=2):
        executor.start(attempt(task_id), reports)
        await reports.count(n)
    assert len(ray.actors) == 1  # the pool of one kept its actor: t3 ran on t2's


async def test_an_actor_whose_constructor_raised_fails_the_attempt_and_is_discarded(
    ray: FakeRay,
) -> None:
    executor, reports = RayExecutor(), Reports()
    await prepared(executor, spec(stateful=True))
    ray.init_fails = True
    executor.start(attempt("t1"), reports)
    await reports.count(1)
    result = reports[0][1]
    assert (result.outcome, result.error_kind, result.retryable) == (
        Outcome.FAILED, "ray_actor_init_failed", False
    )  # fmt: skip
    assert result.error_message == "ValueError: no model at /models/x"
    assert ray.killed == ray.actors  # not given back to the pool
    ray.init_fails = False
    executor.start(attempt("t2"), reports)
    await reports.count(2)
    assert reports[1][1].outcome is Outcome.SUCCEEDED
    assert len(ray.actors) == 2  # a fresh actor served it


async def test_a_node_change_is_reported_even_if_placement_read_it_first(
    ray: FakeRay, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ray_executor, "CAPACITY_REFRESH_SECONDS", 0.0)
    executor = RayExecutor()
    await prepared(executor, spec())
    executor.capacity_changed()
    ray.node_resources.append({"CPU": 1.0, "B": 1.0})
    changed = False
    for _ in range(20):
        executor.unplaceable("a", {"B": 1})
        await asyncio.sleep(0.01)
        changed = changed or executor.capacity_changed()
    assert changed
    assert executor.unplaceable("a", {"B": 1}) is None


async def test_an_amount_ray_cannot_request_makes_the_task_unplaceable(ray: FakeRay) -> None:
    executor = RayExecutor()
    await prepared(executor, spec())
    assert executor.unplaceable("a", {"cpu": 0.00005}) == (
        "Ray cannot request cpu=5e-05: its smallest amount of a resource is 0.0001 "
        "(ask for 0 or at least that)"
    )
    await prepared(executor, spec(stateful=True, actor_resources={"gpu": 0.00001}))
    assert (executor.unplaceable("a", {}) or "").startswith("Ray cannot request gpu=1e-05")


async def test_a_request_must_fit_one_node_not_the_cluster_sum(ray: FakeRay) -> None:
    executor = RayExecutor()
    await prepared(executor, spec())
    assert executor.unplaceable("a", {"gpu": 1}) is None
    assert executor.unplaceable("a", {"gpu": 2}) == (
        "no node of the Ray cluster can satisfy it: it needs GPU=2 (the largest node has GPU=1)"
    )


async def test_a_grown_pool_keeps_its_actors_and_a_shrunk_one_stops_the_surplus(
    ray: FakeRay,
) -> None:
    executor, reports = RayExecutor(), Reports()
    await prepared(executor, spec(stateful=True))
    executor.update(spec(2, stateful=True))
    for n, round_ in enumerate(range(2)):
        executor.start(attempt(f"x{round_}"), reports)
        executor.start(attempt(f"y{round_}"), reports)
        await reports.count(2 * n + 2)
    assert len(ray.actors) == 2  # the second round ran on the first round's actors
    executor.update(spec(1, stateful=True))
    assert len(ray.killed) == 1  # one idle actor beyond the new size
    executor.start(attempt("z"), reports)
    await reports.count(5)
    assert len(ray.actors) == 2


async def test_an_actor_that_died_idle_is_replaced_before_the_attempt_runs(ray: FakeRay) -> None:
    executor, reports = RayExecutor(), Reports()
    await prepared(executor, spec(stateful=True))
    executor.start(attempt("t1"), reports)
    await reports.count(1)
    ray.actors[0].dead = True
    executor.start(attempt("t2"), reports)
    await reports.count(2)
    assert [(t, r.outcome) for t, r in reports] == [
        ("t1", Outcome.SUCCEEDED),
        ("t2", Outcome.SUCCEEDED),
    ]
    assert len(ray.actors) == 2
    assert reports[1][1].result == {"actor": id(ray.actors[1])}  # on the fresh actor


async def test_a_cancelled_attempt_does_not_forget_the_next_one_of_its_task(
    ray: FakeRay,
) -> None:
    executor, reports = RayExecutor(), Reports()
    await prepared(executor, spec())
    ray.hold = True
    executor.start(attempt("t1", token=1), reports)
    await asyncio.sleep(0)
    executor.cancel("t1")
    executor.start(attempt("t1", token=2), reports)
    for _ in range(3):
        await asyncio.sleep(0)
    assert executor.running() == 1
    await executor.close()


async def test_ray_is_connected_in_a_thread_and_a_failed_connect_is_tried_again(
    ray: FakeRay, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[bool] = []

    def connect(address: str, num_cpus: int) -> FakeRay:
        threads.append(threading.current_thread() is threading.main_thread())
        if len(threads) == 1:
            raise ConnectionError("the head is down")
        return ray

    monkeypatch.setattr(ray_executor, "connect_ray", connect)
    monkeypatch.setattr(ray_connection, "FIRST_RETRY_SECONDS", 0.5)
    executor = RayExecutor("ray://head:10001")
    with pytest.raises(AgentLoadError, match=r"^connecting to Ray at ray://head:10001; the agent"):
        executor.prepare(spec())
    assert str(await _refusal_after(executor, "cannot connect")) == (
        "cannot connect to Ray at ray://head:10001: the head is down; trying again in 0.5 s; "
        "the agent loads once connected"
    )
    assert executor.reloadable() == []
    await prepared(executor, spec())
    assert threads == [False, False]  # both tries off the event loop's thread
    assert executor.unplaceable("a", {"gpu": 1}) is None  # the nodes were read on connecting


async def _refusal_after(executor: RayExecutor, starting: str) -> AgentLoadError:
    for _ in range(200):
        try:
            executor.prepare(spec())
        except AgentLoadError as exc:
            if str(exc).startswith(starting):
                return exc
        await asyncio.sleep(0.01)
    raise AssertionError(f"never refused with {starting!r}")


@pytest.mark.parametrize(
    ("failures", "delay"), [(1, 1.0), (2, 2.0), (4, 8.0), (7, 60.0), (50, 60.0)]
)
def test_connecting_again_waits_twice_as_long_each_time_at_most_a_minute(
    failures: int, delay: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ray_connection, "FIRST_RETRY_SECONDS", 1.0)
    assert ray_connection.retry_delay(failures) == delay
