"""What every group of settings shares: the base class, and the shape of a routine's interval."""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings


def interval(env: str, default: float, what: str) -> float:
    """A routine's interval: 0 (off) to 30 days, read from ``env`` or its lower-case name
    without ``IMPERIUM_`` (the field's name)."""
    return Field(
        default=default,
        ge=0,
        le=30 * 24 * 3600,
        validation_alias=AliasChoices(env, env.lower().removeprefix("imperium_")),
        description=f"Seconds between {what} (0: off).",
    )


class SettingsBase(BaseSettings):
    """The base of each group in this package; ``Settings`` inherits them all."""

    @staticmethod
    def split(text: str) -> list[str]:
        return [part.strip() for part in text.split(",") if part.strip()]
