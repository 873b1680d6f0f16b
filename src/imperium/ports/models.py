"""Chat (LLM) and image models the generation services call."""

from __future__ import annotations

from typing import Protocol

from imperium.domain.images import ImageRequest, ImageResult
from imperium.domain.llm import ChatReply, ChatRequest


class ChatModel(Protocol):
    """A language model behind the chat completions protocol (adapters/models). Raises
    ``ModelCallError`` (domain/llm.py) with the provider's reason when no completion came."""

    async def chat(self, request: ChatRequest) -> ChatReply: ...

    async def close(self) -> None: ...


class ImageModel(Protocol):
    """An image model behind the OpenAI-compatible images API (adapters/models). Raises
    ``ModelCallError`` with the provider's reason when no image came."""

    async def generate(self, request: ImageRequest) -> ImageResult: ...

    async def close(self) -> None: ...
