"""``llm``: an agent backed by a language model over the OpenAI-compatible chat protocol.

Register one in one command::

    imperium agents register writer --type llm -c summarise --config '{
        "base_url": "http://localhost:11434/v1", "model": "llama3.1",
        "system_prompt": "You summarise in three sentences.",
        "prompt_template": "Summarise: {text}"}'

Config: ``base_url``, ``model``, ``api_key_env`` (the NAME of the environment variable
holding the key, read when a call is made; never the key; only names that
IMPERIUM_MODEL_KEY_ENVS allows, by default ``*_API_KEY``), ``temperature``,
``max_tokens``, ``timeout``, ``price_per_1k_input``/``price_per_1k_output`` (the cost
recorded per attempt), ``max_retries``/``max_retry_wait`` (429/5xx), ``system_prompt``,
``prompt_template`` (``str.format`` fields filled from a JSON object payload; without one
the payload is the prompt: a string, or ``{"prompt": ...}``).

Tokens are the provider's ``usage``; the cost is computed from them and the configured
prices. Without a backend (no base_url or model, or the key's variable unset) each task
fails with ``kind="not_configured"`` saying what to set: nothing is ever made up.
"""

from __future__ import annotations

import os
import string
from collections.abc import Callable
from typing import Any

from imperium.adapters.models.openai_chat import OpenAIChat
from imperium.agents.base import Agent, Output, TaskContext, TaskFailed
from imperium.domain.errors import ValidationError
from imperium.domain.llm import (
    DEFAULT_KEY_ENVS,
    ChatReply,
    ChatRequest,
    Message,
    ModelCallError,
    ModelConfig,
    inline_secret_refusal,
    key_env_refusal,
    model_config_of,
)
from imperium.ports import ChatModel

NOT_CONFIGURED = "not_configured"
KEY_ENVS_SETTING = "IMPERIUM_MODEL_KEY_ENVS"
ModelFactory = Callable[[ModelConfig, str | None], ChatModel]


def openai_model(config: ModelConfig, api_key: str | None) -> ChatModel:
    assert config.base_url is not None
    return OpenAIChat(
        config.base_url, api_key, timeout=config.timeout,
        max_retries=config.max_retries, max_retry_wait=config.max_retry_wait,
    )  # fmt: skip


def allowed_key_envs() -> str:
    """IMPERIUM_MODEL_KEY_ENVS as the process that reads the keys sees it."""
    return os.environ.get(KEY_ENVS_SETTING) or DEFAULT_KEY_ENVS


def not_configured_reason(config: ModelConfig) -> str | None:
    """What is missing before this config can call a model, or None."""
    if config.api_key_env:
        refusal = key_env_refusal(config.api_key_env, allowed_key_envs())
        if refusal is not None:
            return refusal
    missing = config.missing()
    if missing:
        return (
            f"no model backend configured: set {' and '.join(missing)} in the agent's config "
            '(e.g. imperium agents update ID --config \'{"base_url": '
            '"http://localhost:11434/v1", "model": "llama3.1"}\')'
        )
    if config.api_key_env and not os.environ.get(config.api_key_env):
        return (
            f"the model's API key is not set: export {config.api_key_env} in the environment "
            "of the process that runs this agent (imperium serve or the worker)"
        )
    return None


class LlmAgent(Agent):
    description = "Answers prompts with a language model (OpenAI-compatible chat API)."
    model_factory: ModelFactory = staticmethod(openai_model)

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        self.model_config = model_config_of(self.config)
        check_template(self.model_config.prompt_template)
        self._model: ChatModel | None = None

    @classmethod
    def check_config(cls, config: dict[str, Any], *, key_envs: str | None = None) -> None:
        """Refuse a malformed config at registration (ValidationError): a key written into
        it, an ``api_key_env`` that ``key_envs`` (IMPERIUM_MODEL_KEY_ENVS) does not allow."""
        inline = inline_secret_refusal(config)
        if inline is not None:
            raise ValidationError(inline)
        model = model_config_of(config)
        if model.api_key_env:
            refusal = key_env_refusal(model.api_key_env, key_envs or allowed_key_envs())
            if refusal is not None:
                raise ValidationError(refusal)
        check_template(model.prompt_template)

    def check_backend(self) -> None:
        """Fail the attempt as ``not_configured`` when no call can be made."""
        reason = not_configured_reason(self.model_config)
        if reason is not None:
            raise TaskFailed(reason, kind=NOT_CONFIGURED, retryable=False)

    async def run(self, ctx: TaskContext) -> Output:
        cfg = self.model_config
        self.check_backend()
        request = ChatRequest(
            model=cfg.model or "",
            messages=self.messages(ctx.payload),
            temperature=cfg.temperature,
            max_tokens=cfg.max_tokens,
        )
        try:
            reply = await self._client().chat(request)
        except ModelCallError as exc:
            raise TaskFailed(str(exc), kind=exc.kind, retryable=exc.retryable) from exc
        value = {
            "text": reply.text,
            "model": reply.model,
            "finish_reason": reply.finish_reason,
            "input_tokens": reply.input_tokens,
            "output_tokens": reply.output_tokens,
        }
        return Output(value, tokens=reply.tokens, cost=cfg.cost(reply))

    def messages(self, payload: Any) -> tuple[Message, ...]:
        system = self.model_config.system_prompt
        prompt = render_prompt(self.model_config.prompt_template, payload)
        head = (Message("system", system),) if system else ()
        return (*head, Message("user", prompt))

    def _client(self) -> ChatModel:
        if self._model is None:
            self.check_backend()  # never reads a variable the allowlist refuses
            env = self.model_config.api_key_env
            key = os.environ.get(env) if env else None
            self._model = type(self).model_factory(self.model_config, key)
        return self._model

    async def ask(self, prompt: str, replies: list[ChatReply], system: str) -> ChatReply:
        """One chat call (``cfg.system_prompt`` or ``system``, then ``prompt``); its reply is
        added to ``replies``. A refusal fails the attempt carrying what ``replies`` spent."""
        self.check_backend()
        cfg = self.model_config
        messages = (Message("system", cfg.system_prompt or system), Message("user", prompt))
        request = ChatRequest(cfg.model or "", messages, cfg.temperature, cfg.max_tokens)
        try:
            replies.append(await self._client().chat(request))
        except ModelCallError as exc:
            tokens, cost = self.spent(replies)
            raise TaskFailed(str(exc), kind=exc.kind, retryable=exc.retryable,
                             tokens=tokens, cost=cost) from exc  # fmt: skip
        return replies[-1]

    def spent(self, replies: list[ChatReply]) -> tuple[int | None, float | None]:
        """Tokens and cost of ``replies`` (None when no reply reported any)."""
        tokens = [r.tokens for r in replies if r.tokens is not None]
        costs = [c for c in (self.model_config.cost(r) for r in replies) if c is not None]
        return (sum(tokens) if tokens else None,
                round(sum(costs), 10) if costs else None)  # fmt: skip

    def output(self, value: Any, replies: list[ChatReply]) -> Output:
        tokens, cost = self.spent(replies)
        return Output(value, tokens=tokens, cost=cost)

    async def teardown(self) -> None:
        if self._model is not None:
            await self._model.close()
            self._model = None


def render_prompt(template: str | None, payload: Any) -> str:
    """The user message: ``template`` filled from the payload's fields, or the payload."""
    if template is None:
        if isinstance(payload, str) and payload.strip():
            return payload
        if isinstance(payload, dict) and isinstance(payload.get("prompt"), str):
            return str(payload["prompt"])
        raise TaskFailed(
            'the payload must be a prompt: a string or {"prompt": "..."} (or configure a '
            "prompt_template whose fields the payload fills)",
            kind="bad_payload", retryable=False,
        )  # fmt: skip
    if not isinstance(payload, dict):
        raise TaskFailed(
            "this agent's prompt_template is filled from a JSON object payload",
            kind="bad_payload", retryable=False,
        )  # fmt: skip
    try:
        return template.format_map(payload)
    except KeyError as exc:
        raise TaskFailed(
            f"the payload lacks field {exc} that the prompt_template uses",
            kind="bad_payload", retryable=False,
        ) from exc  # fmt: skip
    except (IndexError, ValueError, AttributeError, TypeError) as exc:
        raise TaskFailed(
            f"the prompt_template does not fit the payload: {exc}",
            kind="bad_payload", retryable=False,
        ) from exc  # fmt: skip


def check_template(template: str | None) -> None:
    if template is None:
        return
    try:
        list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValidationError(
            f"llm config 'prompt_template' is malformed ({exc}); fields are written "
            "{name} and literal braces {{ }}"
        ) from exc
