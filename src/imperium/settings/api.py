"""The HTTP API's settings: body size, rate limits, CORS, trusted proxies and public docs."""

from __future__ import annotations

import ipaddress

from pydantic import AliasChoices, Field, field_validator

from imperium.settings._base import SettingsBase


class ApiSettings(SettingsBase):
    """The HTTP API and its security."""

    max_body_bytes: int = Field(
        default=10 * 1024 * 1024,
        gt=0,
        validation_alias=AliasChoices("IMPERIUM_MAX_BODY_BYTES", "max_body_bytes"),
        description="Largest HTTP request body accepted; larger ones are answered 413.",
    )
    rate_limits: str = Field(
        default="",
        validation_alias=AliasChoices("IMPERIUM_RATE_LIMITS", "rate_limits"),
        description="'off', or entries over the built-in table, e.g. "
        "'default=100/minute;native=6000/minute;/api/v1/l20/strategize=10/minute'.",
    )
    rate_limit_storage: str = Field(
        default="memory://",
        validation_alias=AliasChoices("IMPERIUM_RATE_LIMIT_STORAGE", "rate_limit_storage"),
        description="Where rate-limit counters live: memory:// (one process) or redis://...",
    )
    cors_origins: str = Field(
        default="",
        validation_alias=AliasChoices("IMPERIUM_CORS_ORIGINS", "cors_origins"),
        description="Comma-separated origins browsers may call the API from ('*': any).",
    )
    trusted_proxies: str = Field(
        default="",
        validation_alias=AliasChoices("IMPERIUM_TRUSTED_PROXIES", "trusted_proxies"),
        description="Comma-separated addresses or networks (10.0.0.0/8) of reverse proxies "
        "whose X-Forwarded-For and X-Forwarded-Proto are believed; default none.",
    )
    public_docs: bool = Field(
        default=False,
        validation_alias=AliasChoices("IMPERIUM_PUBLIC_DOCS", "public_docs"),
        description="true: /docs, /redoc and /openapi.json answer without an API key while "
        "keys are in force (by default they need one, like every other route).",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, value: str) -> str:
        for part in cls.split(value):
            try:
                ipaddress.ip_network(part, strict=False)
            except ValueError:
                raise ValueError(
                    f"{part!r} is not an IP address or network; expected e.g. "
                    "'127.0.0.1,10.0.0.0/8' (host names are not accepted)"
                ) from None
        return value
