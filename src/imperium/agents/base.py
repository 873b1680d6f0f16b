"""How to write an agent.

Subclass :class:`Agent` and implement ``run`` (async) — or set ``blocking = True`` and
implement ``run_blocking`` for code that blocks (it runs in a thread pool). Or decorate a
function::

    @agent
    async def summarise(ctx: TaskContext) -> dict:
        return {"summary": ctx.payload["text"][:100]}

Raise :class:`TaskFailed` (or any exception) to fail an attempt; the engine retries with
backoff while attempts remain. ``TaskFailed(..., retryable=False)`` fails the task at once.
Return :class:`Output` to report tokens or cost with the result.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar, overload


@dataclass(frozen=True, slots=True)
class TaskContext:
    """What an agent gets for one attempt."""

    task_id: str
    type: str
    payload: Any
    attempt: int
    agent_id: str
    complexity: float = 1.0
    deadline: float | None = None
    resources: dict[str, float] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    services: dict[str, Any] = field(default_factory=dict)
    """What the server lends agents running inside it (the built-in Imperium agent finds
    the learner here); empty for agents that run elsewhere."""

    @property
    def knowledge(self) -> Any:
        """The knowledge base: ``await ctx.knowledge.search(query, k)`` returns the ``k``
        best documents (``KnowledgeHit``: url, title, text, score...) and records that this
        attempt used them. In the server and on remote workers; elsewhere (Ray) it raises
        ``TaskFailed`` of kind ``knowledge_unavailable``."""
        lender = self.services.get("knowledge")
        if lender is None:
            raise TaskFailed(
                "no knowledge base is lent to this agent here (it is in the server and on "
                "remote workers)", kind="knowledge_unavailable", retryable=False,
            )  # fmt: skip
        return lender.for_attempt(self)


@dataclass(frozen=True, slots=True)
class Output:
    """A result with usage figures attached."""

    value: Any
    tokens: int | None = None
    cost: float | None = None


class TaskFailed(Exception):  # noqa: N818 - reads naturally: raise TaskFailed(...)
    """Raised by an agent to fail an attempt with a named kind of error. ``tokens`` and
    ``cost`` are what the attempt spent before it failed (e.g. model calls that answered
    before one was refused): recorded on the execution and counted against budgets."""

    def __init__(
        self,
        message: str,
        *,
        kind: str = "agent_error",
        retryable: bool = True,
        tokens: int | None = None,
        cost: float | None = None,
    ):
        super().__init__(message)
        self.kind = kind
        self.retryable = retryable
        self.tokens = tokens
        self.cost = cost


T = TypeVar("T")


class Agent:
    """Base class for agents. ``config`` is the agent's registered configuration."""

    blocking: ClassVar[bool] = False
    description: ClassVar[str] = ""

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        self.config = dict(config or {})
        self.thread_pool: Executor | None = None  # set by the executor for blocking agents

    async def run(self, ctx: TaskContext) -> Any:
        if self.blocking:
            return await self.in_thread(self.run_blocking, ctx)
        raise NotImplementedError(f"{type(self).__name__} must implement run() or run_blocking()")

    async def in_thread(self, func: Callable[..., T], *args: Any) -> T:
        """``func(*args)`` on the agent's thread pool (the executor's, else the loop's
        default), with the caller's context: blocking work kept off the event loop."""
        loop = asyncio.get_running_loop()
        call = contextvars.copy_context().run
        return await loop.run_in_executor(self.thread_pool, call, func, *args)

    def run_blocking(self, ctx: TaskContext) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement run_blocking()")

    async def setup(self) -> None:
        """Called once before the first attempt; open clients here."""

    async def teardown(self) -> None:
        """Called at shutdown; close what ``setup`` opened."""


AgentFunction = Callable[[TaskContext], Any]
F = TypeVar("F", bound=AgentFunction)


def _agent_from_function(func: AgentFunction, name: str | None) -> type[Agent]:
    doc = inspect.getdoc(func) or ""
    if inspect.iscoroutinefunction(func):

        async def run(self: Agent, ctx: TaskContext) -> Any:
            return await func(ctx)

        attrs: dict[str, Any] = {"run": run, "blocking": False}
    else:

        def run_blocking(self: Agent, ctx: TaskContext) -> Any:
            return func(ctx)

        attrs = {"run_blocking": run_blocking, "blocking": True}
    attrs.update(description=doc.split("\n", 1)[0], __doc__=doc, __wrapped__=func)
    attrs["__module__"] = func.__module__
    return type(name or func.__name__, (Agent,), attrs)


@overload
def agent(func: AgentFunction, /) -> type[Agent]: ...
@overload
def agent(*, name: str | None = None) -> Callable[[AgentFunction], type[Agent]]: ...
def agent(
    func: AgentFunction | None = None, /, *, name: str | None = None
) -> type[Agent] | Callable[[AgentFunction], type[Agent]]:
    """Turn ``func(ctx)`` — async or blocking — into an :class:`Agent` class."""
    if func is not None:
        return _agent_from_function(func, name)
    return lambda f: _agent_from_function(f, name)
