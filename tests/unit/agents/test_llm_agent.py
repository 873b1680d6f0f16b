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
from imperium.domain.llm import ChatReply, ModelCallError, ModelConfig, key_env_refusal

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
        ({"n": "seven"}, "Count {n:d}", "does not fit the payload"),  # str with :d
        ({"n": [1]}, "Count {n:>{w}}", "lacks field"),
        ({"n": None}, "Count {n:.2f}", "does not fit the payload"),  # TypeError
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
    monkeypatch.delenv("TEST_LLM_API_KEY", raising=False)
    writer = agent(StubChat([]), api_key_env="TEST_LLM_API_KEY")
    with pytest.raises(TaskFailed, match="export TEST_LLM_API_KEY") as caught:
        await writer.run(ctx("hi"))
    assert caught.value.kind == "not_configured"


@pytest.mark.parametrize(
    ("config", "phrase"),
    [
        ({"temperature": "hot"}, "'temperature' must be a number"),
        ({"temperature": 3}, "between 0 and 2"),
        ({"max_tokens": 0}, "'max_tokens' must be a whole number"),
        ({"api_key_env": "sk-abc123"}, "names an environment variable"),
        ({"api_key": "sk-live-abc123"}, "may not hold a key"),
        ({"Authorization": "Bearer sk-live-abc123"}, "may not hold a key"),
        ({"api_key_env": "DATABASE_URL"}, "may not name a server setting"),
        ({"api_key_env": "IMPERIUM_SMTP_PASSWORD"}, "may not name a server setting"),
        ({"api_key_env": "IMPERIUM_API_KEY"}, "may not name a server setting"),
        ({"api_key_env": "RAY_AUTH_TOKEN"}, "may not name a server setting"),
        ({"api_key_env": "GITHUB_TOKEN"}, "may not name a server setting"),
        ({"api_key_env": "HOME"}, "IMPERIUM_MODEL_KEY_ENVS does not allow"),
        ({"base_url": "localhost:11434"}, "must start with http"),
        ({"prompt_template": "Say {text"}, "'prompt_template' is malformed"),
        ({"price_per_1k_input": -1}, "between 0"),
    ],
)
def test_a_malformed_config_is_refused_at_registration(config: dict[str, Any], phrase: str) -> None:
    with pytest.raises(ValidationError, match=phrase) as caught:
        LlmAgent.check_config(config)
    assert "abc123" not in str(caught.value)  # no part of a pasted key is echoed


@pytest.mark.parametrize(
    ("name", "allowed", "ok"),
    [
        ("OPENAI_API_KEY", "*_API_KEY", True),
        ("MY_SECRET_API_KEY", "*_API_KEY", False),  # a pattern never admits SECRET...
        ("IMPERIUM_API_KEY", "*_API_KEY", False),
        ("RAY_API_KEY", "*", False),
        ("MY_SECRET_API_KEY", "*_API_KEY,MY_SECRET_API_KEY", True),  # ... its exact name does
        ("GROQ_KEY", "*_API_KEY", False),
        ("GROQ_KEY", "*_API_KEY, GROQ_KEY", True),
        ("LLM_CRED", "LLM_*", True),
        ("database_url", "*", False),
        ("OPENAI_API_KEY", "", False),
    ],
)
def test_only_allowed_variables_may_hold_a_models_key(name: str, allowed: str, ok: bool) -> None:
    assert (key_env_refusal(name, allowed) is None) is ok


async def test_a_refused_variable_is_never_read_when_the_task_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An agent stored before the allowlist (or registered under another setting) fails
    not_configured and no client is ever made with the variable's value."""
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:hunter2@db/x")
    monkeypatch.delenv("IMPERIUM_MODEL_KEY_ENVS", raising=False)
    keys: list[str | None] = []

    class Spy(LlmAgent):
        @staticmethod
        def model_factory(cfg: ModelConfig, key: str | None) -> StubChat:  # type: ignore[override]
            keys.append(key)
            return StubChat([ChatReply("ok", "m")])

    writer = Spy({**BACKEND, "api_key_env": "DATABASE_URL"})
    with pytest.raises(TaskFailed, match="may not name a server setting") as caught:
        await writer.run(ctx("hi"))
    assert caught.value.kind == "not_configured"
    assert not caught.value.retryable
    assert "hunter2" not in str(caught.value)
    with pytest.raises(TaskFailed):
        writer._client()
    assert keys == []
    monkeypatch.setenv("IMPERIUM_MODEL_KEY_ENVS", "*_API_KEY,DATABASE_URL")  # listed by name
    assert (await writer.run(ctx("hi"))).value["text"] == "ok"
    assert keys == ["postgresql://u:hunter2@db/x"]


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


async def test_a_refused_second_call_fails_with_what_the_first_spent() -> None:
    from imperium.adapters.executors.local import to_failure
    from imperium.agents.product_content import ProductContentAgent

    refusal = ModelCallError("provider_error", "overloaded", retryable=True, status=503)
    stub = StubChat([ChatReply("x " * 200, "m", None, 5, 200), refusal])

    class Scripted(ProductContentAgent):
        @staticmethod
        def model_factory(cfg: ModelConfig, key: str | None) -> StubChat:  # type: ignore[override]
            return stub

    payload = {"product_details": {"name": "Pen"}, "content_type": "meta_description"}
    with pytest.raises(TaskFailed, match="overloaded") as caught:
        await Scripted({**BACKEND, "price_per_1k_output": 1.0}).run(ctx(payload))
    assert (caught.value.tokens, caught.value.cost) == (205, pytest.approx(0.2))
    failed = to_failure(caught.value)
    assert (failed.error_kind, failed.tokens, failed.cost) == ("provider_error", 205, 0.2)
