"""Language-model calls as values: a model agent's configuration, the request and reply of
one chat completion, its price, and the backoff between refused calls.

Pure: no HTTP here. The port is :class:`imperium.ports.ChatModel`; the OpenAI-compatible
adapter lives in ``adapters/models``. The API key itself is never part of a configuration,
only the *name* of the environment variable that holds it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from imperium.domain.errors import ValidationError

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_KEYS = {
    "base_url", "model", "api_key_env", "temperature", "max_tokens", "timeout",
    "price_per_1k_input", "price_per_1k_output", "max_retries", "max_retry_wait",
    "system_prompt", "prompt_template",
}  # fmt: skip
DEFAULT_KEY_ENVS = "*_API_KEY"
"""The variables an ``api_key_env`` may name unless IMPERIUM_MODEL_KEY_ENVS says otherwise."""
_NEVER_PREFIXES = ("IMPERIUM_", "RAY_")
_NEVER_NAMES = ("DATABASE_URL",)
_NEVER_WORDS = ("PASSWORD", "SECRET", "TOKEN")
_INLINE_SECRETS = {
    "api_key", "apikey", "key", "token", "access_token", "authorization", "password", "secret",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Message:
    role: str  # "system", "user" or "assistant"
    content: str


@dataclass(frozen=True, slots=True)
class ChatRequest:
    model: str
    messages: tuple[Message, ...]
    temperature: float | None = None
    max_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class ChatReply:
    """One completion, with the provider's own usage figures (None when it sent none)."""

    text: str
    model: str
    finish_reason: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None

    @property
    def tokens(self) -> int | None:
        if self.input_tokens is None and self.output_tokens is None:
            return None
        return (self.input_tokens or 0) + (self.output_tokens or 0)


class ModelCallError(Exception):
    """A model call that did not produce a completion. ``kind`` names why
    (``rate_limited``, ``provider_error``, ``timeout``, ``connection_error``,
    ``bad_response``, ``not_configured``); ``retryable`` says whether a later attempt may
    succeed; ``status`` is the provider's HTTP status when it answered."""

    def __init__(
        self, kind: str, message: str, *, retryable: bool, status: int | None = None
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.retryable = retryable
        self.status = status


@dataclass(frozen=True, slots=True)
class ModelConfig:
    """What a model-backed agent's registered config says about its backend."""

    base_url: str | None = None
    model: str | None = None
    api_key_env: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    timeout: float = 60.0
    price_per_1k_input: float | None = None
    price_per_1k_output: float | None = None
    max_retries: int = 3
    """Further tries after a 429, a 5xx or a dropped connection, within one attempt."""
    max_retry_wait: float = 30.0
    """The longest wait between tries; a Retry-After longer than this ends the attempt."""
    system_prompt: str | None = None
    prompt_template: str | None = None

    def missing(self) -> list[str]:
        """What must still be configured before a call can be made."""
        return [name for name in ("base_url", "model") if not getattr(self, name)]

    def cost(self, reply: ChatReply) -> float | None:
        """The call's price from the provider's token counts; None without prices or usage."""
        if self.price_per_1k_input is None and self.price_per_1k_output is None:
            return None
        if reply.input_tokens is None and reply.output_tokens is None:
            return None
        spent = (reply.input_tokens or 0) * (self.price_per_1k_input or 0.0)
        spent += (reply.output_tokens or 0) * (self.price_per_1k_output or 0.0)
        return round(spent / 1000.0, 10)


def model_config_of(config: dict[str, Any]) -> ModelConfig:
    """Read a model backend from an agent's config; a malformed field is refused with the
    field's name and what it takes. Unrelated keys (capabilities of other layers: budget,
    runtime) are left alone."""
    values = {k: v for k, v in config.items() if k in _KEYS}
    for name in ("base_url", "model", "api_key_env", "system_prompt", "prompt_template"):
        if values.get(name) is not None and not isinstance(values[name], str):
            raise ValidationError(f"llm config '{name}' must be a string")
    env = values.get("api_key_env")
    if env and not _ENV_NAME.match(env):
        raise ValidationError(  # the value may be a pasted key: none of it is echoed
            "llm config 'api_key_env' names an environment variable (e.g. OPENAI_API_KEY), "
            "not a key"
        )
    url = values.get("base_url")
    if url and not url.startswith(("http://", "https://")):
        raise ValidationError(
            "llm config 'base_url' must start with http:// or https://, "
            "e.g. https://api.openai.com/v1 or http://localhost:11434/v1"
        )
    _number(values, "temperature", 0.0, 2.0)
    _number(values, "timeout", 0.001, 3600.0)
    _number(values, "price_per_1k_input", 0.0, 1e6)
    _number(values, "price_per_1k_output", 0.0, 1e6)
    _number(values, "max_retry_wait", 0.0, 3600.0)
    _whole(values, "max_tokens", 1, 10_000_000)
    _whole(values, "max_retries", 0, 20)
    return ModelConfig(**values)


def key_env_refusal(name: str, allowed: str = DEFAULT_KEY_ENVS) -> str | None:
    """Why the variable ``name`` may not be sent to a model as its key, or None.

    ``allowed`` is IMPERIUM_MODEL_KEY_ENVS: comma-separated names or glob patterns. The
    server's own settings (IMPERIUM_*, DATABASE_URL, RAY_*) and names containing PASSWORD,
    SECRET or TOKEN are refused even when a pattern matches them, unless listed by exact
    name. The message never repeats ``name`` (it may be a pasted key)."""
    entries = [entry.strip() for entry in allowed.split(",") if entry.strip()]
    if name in entries:
        return None
    upper = name.upper()
    if (
        upper.startswith(_NEVER_PREFIXES)
        or upper in _NEVER_NAMES
        or any(word in upper for word in _NEVER_WORDS)
    ):
        return (
            "llm config 'api_key_env' may not name a server setting (IMPERIUM_*, DATABASE_URL, "
            "RAY_*) or a variable named like a password, secret or token: its value would be "
            "sent to the model server; list it by exact name in IMPERIUM_MODEL_KEY_ENVS to "
            "allow it"
        )
    if any(fnmatchcase(name, pattern) for pattern in entries):
        return None
    return (
        "llm config 'api_key_env' names a variable that IMPERIUM_MODEL_KEY_ENVS does not allow "
        f"(allowed: {', '.join(entries) or 'none'}); name one such as OPENAI_API_KEY, or add "
        "it to IMPERIUM_MODEL_KEY_ENVS"
    )


def inline_secret_refusal(config: dict[str, Any]) -> str | None:
    """Why ``config`` may not be stored: it carries a key itself (``api_key``, ``token``...)
    where only the name of its environment variable belongs. The value is never repeated."""
    found = sorted(k for k in config if k.lower().replace("-", "_") in _INLINE_SECRETS)
    if not found:
        return None
    return (
        f"an agent's config is stored and shown by the API: it may not hold a key "
        f"({', '.join(repr(k) for k in found)}); export the key in the server's environment "
        'and name that variable in \'api_key_env\' (e.g. "api_key_env": "OPENAI_API_KEY")'
    )


def _number(values: dict[str, Any], name: str, low: float, high: float) -> None:
    value = values.get(name)
    if value is None:
        values.pop(name, None)
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValidationError(f"llm config '{name}' must be a number")
    if not low <= value <= high:
        raise ValidationError(f"llm config '{name}' must be between {low:g} and {high:g}")
    values[name] = float(value)


def _whole(values: dict[str, Any], name: str, low: int, high: int) -> None:
    value = values.get(name)
    if value is None:
        values.pop(name, None)
        return
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationError(f"llm config '{name}' must be a whole number from {low} to {high}")


def retry_delay(retry: int, retry_after: float | None, base: float = 0.5) -> float:
    """Seconds to wait before try ``retry`` (1 for the first retry): the provider's
    Retry-After when it sent one, else exponential from ``base`` (0.5, 1, 2, 4 ...)."""
    if retry_after is not None and retry_after >= 0:
        return retry_after
    return base * 2.0 ** (retry - 1)
