"""``Client``: a typed async client of the Imperium HTTP API::

    async with Client("http://127.0.0.1:8000") as client:
        task = await client.submit("summarise", payload={"text": "..."})
        done = await client.wait(task["id"])

Tasks and agents come back as the API's JSON objects (dicts); leases as :class:`Lease`.
An error answer raises :class:`ClientError` with the status and the problem's detail; a
server that cannot be reached raises :class:`ServerUnreachableError`. Bodies are encoded
with orjson, the encoder the server stores JSON with, so whatever an agent may return
locally it may also return remotely.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypedDict

import httpx
import orjson

from imperium.domain.knowledge import KnowledgeHit
from imperium.domain.states import TERMINAL_STATES

Json = dict[str, Any]
_TERMINAL = frozenset(str(s) for s in TERMINAL_STATES)
_LONG_POLL_MARGIN = 10.0  # seconds a long-poll may take beyond its wait


class ClientError(Exception):
    """The server refused a request: ``status`` is the HTTP status, ``detail`` the problem's
    explanation and ``problem`` the whole RFC 9457 body."""

    def __init__(self, status: int | None, detail: str, problem: Json | None = None) -> None:
        super().__init__(f"{status}: {detail}" if status is not None else detail)
        self.status = status
        self.detail = detail
        self.problem = problem or {}

    @classmethod
    def from_response(cls, response: httpx.Response) -> ClientError:
        try:
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            body = None
        if isinstance(body, dict):
            detail = str(body.get("detail") or body.get("title") or response.reason_phrase)
            return cls(response.status_code, detail, body)
        text = response.text.strip() or response.reason_phrase
        return cls(response.status_code, text[:500])


class ServerUnreachableError(ClientError):
    """No answer from the server (refused, timed out, or the connection broke); ``status``
    is None."""


@dataclass(frozen=True, slots=True)
class Lease:
    """A task leased to a remote agent. Send ``token`` back with every call about it."""

    task_id: str
    type: str
    payload: Any
    attempt: int
    token: int
    expires_at: float
    lease_seconds: float
    complexity: float
    deadline: float | None
    timeout: float | None
    resources: dict[str, float]

    @classmethod
    def from_json(cls, data: Json) -> Lease:
        return cls(
            task_id=data["task_id"],
            type=data["type"],
            payload=data.get("payload"),
            attempt=data["attempt"],
            token=data["token"],
            expires_at=data["expires_at"],
            lease_seconds=data["lease_seconds"],
            complexity=data.get("complexity", 1.0),
            deadline=data.get("deadline"),
            timeout=data.get("timeout"),
            resources=dict(data.get("resources") or {}),
        )


class Recorded(TypedDict):
    """What the server did with a reported outcome (``state`` is ``queued`` on a retry)."""

    task_id: str
    state: str


class Client:
    """One connection pool to an Imperium server; use as ``async with Client(url) as c``."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        timeout: float = 30.0,
        headers: dict[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """``api_key`` defaults to the ``IMPERIUM_API_KEY`` environment variable; a server
        that listens beyond loopback, or has any key, requires one."""
        self.base_url = base_url.rstrip("/")
        api_key = api_key if api_key is not None else os.environ.get("IMPERIUM_API_KEY")
        if api_key:
            headers = {**(headers or {}), "Authorization": f"Bearer {api_key}"}
        self._http = httpx.AsyncClient(
            base_url=self.base_url, timeout=timeout, headers=headers, transport=transport
        )

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    # ------------------------------------------------------------------ agents and tasks
    async def register_agent(
        self,
        agent_id: str,
        *,
        type: str = "remote",
        capabilities: list[str] | None = None,
        max_concurrency: int = 1,
        **fields: Any,
    ) -> Json:
        """Register an agent; ``fields`` are further AgentIn fields (priority, config…)."""
        body = {
            "agent_id": agent_id,
            "type": type,
            "capabilities": list(capabilities or []),
            "max_concurrency": max_concurrency,
            **fields,
        }
        result: Json = await self._call("POST", "/api/v1/agents", body)
        return result

    async def submit(self, type: str, payload: Any = None, **fields: Any) -> Json:
        """Submit a task; ``fields`` are further TaskIn fields (priority, depends_on…)."""
        result: Json = await self._call(
            "POST", "/api/v1/tasks", {"type": type, "payload": payload, **fields}
        )
        return result

    async def get_task(self, task_id: str) -> Json:
        result: Json = await self._call("GET", f"/api/v1/tasks/{task_id}")
        return result

    async def wait(self, task_id: str, *, interval: float = 0.25) -> Json:
        """Poll until the task has ended; bound it with ``asyncio.timeout`` if need be."""
        while True:
            task = await self.get_task(task_id)
            if task["state"] in _TERMINAL:
                return task
            await asyncio.sleep(interval)

    # ------------------------------------------------------------------ remote agents
    async def lease(self, agent_id: str, max_tasks: int = 1, wait: float = 0.0) -> list[Lease]:
        """Lease up to ``max_tasks`` tasks, waiting up to ``wait`` seconds for one."""
        answer = await self._call(
            "POST",
            f"/api/v1/agents/{agent_id}/lease",
            {"max_tasks": max_tasks, "wait": wait},
            request_timeout=wait + _LONG_POLL_MARGIN,
        )
        return [Lease.from_json(item) for item in answer["leases"]]

    async def heartbeat(
        self, task_id: str, *, agent_id: str, token: int, request_timeout: float | None = None
    ) -> float:
        """Extend a lease; returns its new expiry. 409 once the lease has moved on."""
        answer = await self._call(
            "POST",
            f"/api/v1/tasks/{task_id}/heartbeat",
            {"agent_id": agent_id, "token": token},
            request_timeout=request_timeout,
        )
        return float(answer["expires_at"])

    async def complete(
        self,
        task_id: str,
        *,
        agent_id: str,
        token: int,
        result: Any = None,
        tokens: int | None = None,
        cost: float | None = None,
    ) -> Recorded:
        body = {"agent_id": agent_id, "token": token, "result": result}
        if tokens is not None:
            body["tokens"] = tokens
        if cost is not None:
            body["cost"] = cost
        return _recorded(await self._call("POST", f"/api/v1/tasks/{task_id}/complete", body))

    async def fail(
        self,
        task_id: str,
        *,
        agent_id: str,
        token: int,
        message: str,
        error_kind: str = "agent_error",
        retryable: bool = True,
        tokens: int | None = None,
        cost: float | None = None,
    ) -> Recorded:
        body: dict[str, Any] = {
            "agent_id": agent_id,
            "token": token,
            "error_kind": error_kind,
            "message": message,
            "retryable": retryable,
        }
        if tokens is not None:
            body["tokens"] = tokens
        if cost is not None:
            body["cost"] = cost
        return _recorded(await self._call("POST", f"/api/v1/tasks/{task_id}/fail", body))

    # ------------------------------------------------------------------ knowledge
    async def search_knowledge(
        self,
        query: str,
        k: int = 5,
        *,
        topic: str | None = None,
        task_id: str | None = None,
        attempt: int | None = None,
        agent_id: str | None = None,
    ) -> list[KnowledgeHit]:
        """The knowledge base's ``k`` best documents for ``query``; with ``task_id`` and
        ``attempt`` the server records that this attempt used them."""
        body = {"query": query, "k": k, "topic": topic, "task_id": task_id,
                "attempt": attempt, "agent_id": agent_id}  # fmt: skip
        answer = await self._call("POST", "/api/v1/knowledge/search", body)
        return [KnowledgeHit(**hit) for hit in answer["items"]]

    # ------------------------------------------------------------------ transport
    async def _call(
        self, method: str, path: str, body: Any = None, *, request_timeout: float | None = None
    ) -> Any:
        content = None if body is None else orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS)
        headers = {"content-type": "application/json"} if content is not None else None
        try:
            response = await self._http.request(
                method,
                path,
                content=content,
                headers=headers,
                timeout=httpx.USE_CLIENT_DEFAULT if request_timeout is None else request_timeout,
            )
        except httpx.TransportError as exc:
            reason = str(exc) or type(exc).__name__
            raise ServerUnreachableError(
                None, f"cannot reach the server at {self.base_url}: {reason}"
            ) from exc
        if response.is_error:
            raise ClientError.from_response(response)
        return orjson.loads(response.content)


def _recorded(answer: Json) -> Recorded:
    return Recorded(task_id=answer["task_id"], state=answer["state"])
