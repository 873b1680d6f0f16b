"""The OpenAI-compatible chat adapter against a local server that speaks the published
API schema (tests/support/openai_server.py): usage, refusals with the provider's reason,
429 with Retry-After, 5xx, and the bounds on retrying."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from imperium.adapters.models.openai_chat import OpenAIChat
from imperium.domain.llm import ChatRequest, Message, ModelCallError
from tests.support.openai_server import (
    OpenAIServer,
    Scripted,
    completion,
    error_body,
    running_openai_server,
)

KEY = "sk-local-test"
REQUEST = ChatRequest(
    "local-model",
    (Message("system", "You are terse."), Message("user", "name three colours")),
    temperature=0.2,
    max_tokens=50,
)


@pytest.fixture(scope="module")
def module_server() -> Iterator[OpenAIServer]:
    with running_openai_server(KEY) as server:
        yield server


@pytest.fixture
def server(module_server: OpenAIServer) -> OpenAIServer:
    module_server.reset()
    return module_server


class Sleeps:
    def __init__(self) -> None:
        self.waited: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waited.append(seconds)


def model(server: OpenAIServer, sleeps: Sleeps | None = None, **kw: object) -> OpenAIChat:
    return OpenAIChat(server.base_url, KEY, sleep=sleeps or Sleeps(), timeout=5.0, **kw)  # type: ignore[arg-type]


async def test_a_completion_carries_the_providers_usage(server: OpenAIServer) -> None:
    chat = model(server)
    reply = await chat.chat(REQUEST)
    await chat.close()
    assert reply.text == "echo: name three colours"
    assert (reply.input_tokens, reply.output_tokens, reply.tokens) == (6, 4, 10)
    assert reply.finish_reason == "stop"
    sent = server.requests[0]
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.body == {
        "model": "local-model",
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "name three colours"},
        ],
        "temperature": 0.2,
        "max_tokens": 50,
    }


async def test_an_answer_without_usage_has_no_tokens(server: OpenAIServer) -> None:
    server.script(Scripted(200, completion("hi", "m", None, None)))
    reply = await model(server).chat(REQUEST)
    assert reply.text == "hi"
    assert reply.tokens is None


async def test_a_wrong_key_is_a_final_refusal_with_the_providers_reason(
    server: OpenAIServer,
) -> None:
    chat = OpenAIChat(server.base_url, "sk-wrong", sleep=Sleeps())
    with pytest.raises(ModelCallError) as caught:
        await chat.chat(REQUEST)
    assert caught.value.kind == "provider_error"
    assert caught.value.status == 401
    assert not caught.value.retryable
    assert "Incorrect API key provided" in str(caught.value)
    assert len(server.requests) == 1  # a 4xx is not tried again


async def test_a_bad_request_names_the_providers_reason(server: OpenAIServer) -> None:
    bad = ChatRequest("m", ())
    with pytest.raises(ModelCallError, match="'messages' must be a non-empty array"):
        await model(server).chat(bad)


async def test_429_waits_what_retry_after_says_then_succeeds(server: OpenAIServer) -> None:
    server.script(
        Scripted(429, error_body("Rate limit reached", "requests", "rate_limit_exceeded"),
                 {"Retry-After": "7"}),
        Scripted(429, error_body("Rate limit reached", "requests"), {"Retry-After": "2.5"}),
    )  # fmt: skip
    sleeps = Sleeps()
    reply = await model(server, sleeps).chat(REQUEST)
    assert reply.text.startswith("echo:")
    assert sleeps.waited == [7.0, 2.5]
    assert len(server.requests) == 3


async def test_5xx_backs_off_exponentially_without_retry_after(server: OpenAIServer) -> None:
    server.script(*(Scripted(503, error_body("overloaded", "server_error")) for _ in range(2)))
    sleeps = Sleeps()
    await model(server, sleeps).chat(REQUEST)
    assert sleeps.waited == [0.5, 1.0]


async def test_retries_are_bounded_and_the_failure_says_so(server: OpenAIServer) -> None:
    server.script(*(Scripted(500, error_body("boom", "server_error")) for _ in range(5)))
    sleeps = Sleeps()
    with pytest.raises(ModelCallError) as caught:
        await model(server, sleeps, max_retries=2).chat(REQUEST)
    assert caught.value.kind == "provider_error"
    assert caught.value.retryable
    assert "(500): boom" in str(caught.value)
    assert "after 3 tries" in str(caught.value)
    assert len(server.requests) == 3
    assert len(sleeps.waited) == 2


async def test_a_retry_after_beyond_the_bound_ends_the_attempt(server: OpenAIServer) -> None:
    server.script(Scripted(429, error_body("slow down", "requests"), {"Retry-After": "3600"}))
    sleeps = Sleeps()
    with pytest.raises(ModelCallError) as caught:
        await model(server, sleeps, max_retry_wait=30.0).chat(REQUEST)
    assert caught.value.kind == "rate_limited"
    assert caught.value.retryable
    assert "asked to wait 3600s" in str(caught.value)
    assert sleeps.waited == []
    assert len(server.requests) == 1


async def test_an_answer_that_is_not_a_completion_is_a_bad_response(
    server: OpenAIServer,
) -> None:
    server.script(Scripted(200, {"object": "list", "data": []}))
    with pytest.raises(ModelCallError) as caught:
        await model(server).chat(REQUEST)
    assert caught.value.kind == "bad_response"


async def test_an_unreachable_server_is_a_connection_error() -> None:
    with running_openai_server() as gone:
        url = gone.base_url
    sleeps = Sleeps()
    with pytest.raises(ModelCallError) as caught:
        await OpenAIChat(url, None, sleep=sleeps, max_retries=1).chat(REQUEST)
    assert caught.value.kind == "connection_error"
    assert sleeps.waited == [0.5]
