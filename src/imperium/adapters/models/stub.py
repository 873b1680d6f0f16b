"""``StubChat``: a scripted ``ChatModel`` for unit tests. Each call takes the next scripted
item: a :class:`ChatReply` is returned, a :class:`ModelCallError` raised. It records the
requests it was given."""

from __future__ import annotations

from collections.abc import Iterable

from imperium.domain.llm import ChatReply, ChatRequest, ModelCallError


class StubChat:
    def __init__(self, script: Iterable[ChatReply | ModelCallError]) -> None:
        self._script = list(script)
        self.requests: list[ChatRequest] = []
        self.closed = False

    async def chat(self, request: ChatRequest) -> ChatReply:
        self.requests.append(request)
        if not self._script:
            raise AssertionError("StubChat: more calls than scripted replies")
        item = self._script.pop(0)
        if isinstance(item, ModelCallError):
            raise item
        return item

    async def close(self) -> None:
        self.closed = True
