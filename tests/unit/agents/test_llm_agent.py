"""The llm agent with a scripted model (adapters/models/stub.py): prompts from its config,
usage and cost on the output, refusals as failed attempts, and no backend = not_configured."""

from __future__ import annotations

from typing import Any

import pytest

from imperium.adapters.models.stub import StubChat
from imperium.agents.base import Output, TaskContext, TaskFailed
from imperium.agents.llm import LlmAgent
from imperium.agents.loader import load_agent_class
from imperium.domain.errors import ValidationError
from imperium.domain.llm import ChatReply, ModelCallError, ModelConfig

BACKEND = {"base_url": "http://127.0.0.1:9/v1", "model": "m"}


def agent(stub: StubChat, **config: Any) -> LlmAgent:
    class Scripted(LlmAgent):
        @staticmethod
        def model_factory(cfg: ModelConfig, key: str | None) -> StubChat:  # type: ignore[override]
            return stub

    return Scripted({**BACKEND, **config})


def ctx(payload: Any) -> TaskContext:
    return TaskContext("t-1", "summarise", payload, 1, "writer")


def test_llm_is_an_installed_agent_type() -> None:
    assert load_agent_class("llm") is LlmAgent


async def test_the_template_and_system_prompt_make_the_messages() -> None:
    stub = StubChat([ChatReply("ok", "m", "stop", 12, 3)])
    writer = agent(stub, system_prompt="Be brief.", prompt_template="Summarise: {text}",
                   temperature=0.1, max_tokens=20, price_per_1k_input=0.5,
                   price_per_1k_output=1.5)  # fmt: skip
    out = await writer.run(ctx({"text": "a long story"}))
    assert isinstance(out, Output)
    assert out.value == {"text": "ok", "model": "m", "finish_reason": "stop",
                         "input_tokens": 12, "output_tokens": 3}  # fmt: skip
    assert out.tokens == 15
    assert out.cost == pytest.approx((12 * 0.5 + 3 * 1.5) / 1000)
    request = stub.requests[0]
    assert [(m.role, m.content) for m in request.messages] == [
        ("system", "Be brief."), ("user", "Summarise: a long story")]  # fmt: skip
    assert (request.model, request.temperature, request.max_tokens) == ("m", 0.1, 20)


async def test_without_prices_the_cost_is_unknown_not_zero() -> None:
    out = await agent(StubChat([ChatReply("ok", "m", None, 4, 1)])).run(ctx("hello"))
    assert out.tokens == 5
    assert out.cost is None


@pytest.mark.parametrize(
    ("payload", "template", "phrase"),
    [
        ({"x": 1}, None, "must be a prompt"),
        ("text", "Say {text}", "JSON object payload"),
        ({"other": 1}, "Say {text}", "lacks field 'text'"),
    ],
)
async def test_payloads_that_make_no_prompt_are_refused(
    payload: Any, template: str | None, phrase: str
) -> None:
    writer = agent(StubChat([]), prompt_template=template)
    with pytest.raises(TaskFailed, match=phrase) as caught:
        await writer.run(ctx(payload))
    assert caught.value.kind == "bad_payload"
    assert not caught.value.retryable


async def test_a_refusal_is_a_failed_attempt_with_the_providers_reason() -> None:
    refusal = ModelCallError("rate_limited", "the provider refused the request (429): slow",
                             retryable=True, status=429)  # fmt: skip
    with pytest.raises(TaskFailed, match="429") as caught:
        await agent(StubChat([refusal])).run(ctx("hi"))
    assert caught.value.kind == "rate_limited"
    assert caught.value.retryable


async def test_without_a_backend_the_task_fails_not_configured() -> None:
    stub = StubChat([])
    writer = agent(stub)
    writer.model_config = ModelConfig()
    with pytest.raises(TaskFailed, match="set base_url and model") as caught:
        await writer.run(ctx("hi"))
    assert caught.value.kind == "not_configured"
    assert not caught.value.retryable
    assert stub.requests == []  # nothing pretended


async def test_an_unset_key_variable_is_not_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IMPERIUM_TEST_LLM_KEY", raising=False)
    writer = agent(StubChat([]), api_key_env="IMPERIUM_TEST_LLM_KEY")
    with pytest.raises(TaskFailed, match="export IMPERIUM_TEST_LLM_KEY") as caught:
        await writer.run(ctx("hi"))
    assert caught.value.kind == "not_configured"


@pytest.mark.parametrize(
    ("config", "phrase"),
    [
        ({"temperature": "hot"}, "'temperature' must be a number"),
        ({"temperature": 3}, "between 0 and 2"),
        ({"max_tokens": 0}, "'max_tokens' must be a whole number"),
        ({"api_key_env": "sk-abc123"}, "names an environment variable"),
        ({"base_url": "localhost:11434"}, "must start with http"),
        ({"prompt_template": "Say {text"}, "'prompt_template' is malformed"),
        ({"price_per_1k_input": -1}, "between 0"),
    ],
)
def test_a_malformed_config_is_refused_at_registration(config: dict[str, Any], phrase: str) -> None:
    with pytest.raises(ValidationError, match=phrase):
        LlmAgent.check_config(config)


async def test_product_copy_that_breaks_a_limit_twice_is_reported_not_hidden() -> None:
    from imperium.agents.product_content import ProductContentAgent

    stub = StubChat(
        [ChatReply("x " * 200, "m", None, 5, 200), ChatReply("y " * 200, "m", None, 9, 200)]
    )

    class Scripted(ProductContentAgent):
        @staticmethod
        def model_factory(cfg: ModelConfig, key: str | None) -> StubChat:  # type: ignore[override]
            return stub

    payload = {"product_details": {"name": "Pen"}, "content_type": "meta_description"}
    out = await Scripted({**BACKEND, "price_per_1k_output": 1.0}).run(ctx(payload))
    assert out.value["attempts"] == 2
    assert out.value["measured"]["limits_met"] is False
    assert out.tokens == 414
    assert out.cost == pytest.approx(0.4)
    assert len(stub.requests) == 2
