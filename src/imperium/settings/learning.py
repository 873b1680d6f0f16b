"""The learning settings: whether and how the router learns, its cycles and its weights."""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field, field_validator

from imperium.settings._base import SettingsBase, interval


class LearningSettings(SettingsBase):
    """Learning and the learned router."""

    learning_enabled: bool = Field(
        default=True,
        validation_alias=AliasChoices("IMPERIUM_LEARNING_ENABLED", "learning_enabled"),
        description="false: record executions only; no learned routing, cycles or predictions "
        "(the seed's learning_enabled flag).",
    )
    learning_mode: Literal["observe", "recommend", "autonomous"] = Field(
        default="autonomous",
        validation_alias=AliasChoices("IMPERIUM_LEARNING_MODE", "learning_mode"),
        description="observe: learn, dispatch least-loaded; recommend: also expose "
        "recommendations; autonomous: the learned router dispatches.",
    )
    learning_cycle_interval: float = Field(
        default=1800.0,
        ge=0,
        le=7 * 24 * 3600,
        validation_alias=AliasChoices("LEARNING_CYCLE_INTERVAL", "learning_cycle_interval"),
        description="Seconds between learning cycles in `imperium serve` (0: only on demand).",
    )
    learning_history: int = Field(
        default=50_000,
        ge=100,
        le=1_000_000,
        validation_alias=AliasChoices("IMPERIUM_LEARNING_HISTORY", "learning_history"),
        description="How many of the newest executions a learning cycle (and the router at "
        "start) learns from.",
    )

    learning_cycle_timeout: float = Field(
        default=600.0,
        ge=10,
        le=86_400,
        validation_alias=AliasChoices("IMPERIUM_LEARNING_CYCLE_TIMEOUT", "learning_cycle_timeout"),
        description="Seconds a learning cycle may take; one still running then is recorded "
        "as failed (its fit, in a worker thread, is abandoned).",
    )

    router_forgetting: float = Field(
        default=1.0,
        ge=0.9,
        le=1.0,
        validation_alias=AliasChoices("IMPERIUM_ROUTER_FORGETTING", "router_forgetting"),
        description="Below 1, the router's evidence fades by this factor per outcome of a "
        "task type, so agents it stopped choosing are retried (notices improvements; costs "
        "steady exploration). 1: remember everything.",
    )
    router_duration_weight: float = Field(
        default=0.02,
        ge=0.0,
        le=1.0,
        validation_alias=AliasChoices("IMPERIUM_ROUTER_DURATION_WEIGHT", "router_duration_weight"),
        description="Success the router gives up per doubling of an agent's typical duration "
        "over the fastest candidate's, while it knows the agent little (see "
        "IMPERIUM_ROUTER_DURATION_FADE). 0: speed plays no part.",
    )
    router_duration_fade: float = Field(
        default=20.0,
        ge=0.0,
        le=1e9,
        validation_alias=AliasChoices("IMPERIUM_ROUTER_DURATION_FADE", "router_duration_fade"),
        description="An agent's attempts on a task type after which speed counts half as "
        "much in choosing it (fade / (fade + attempts)): with evidence, the router chooses by "
        "success alone. 0: speed always counts fully (a lasting speed-for-success trade-off).",
    )
    router_cost_weight: float = Field(
        default=0.02,
        ge=0.0,
        le=1.0,
        validation_alias=AliasChoices("IMPERIUM_ROUTER_COST_WEIGHT", "router_cost_weight"),
        description="Success the router gives up per doubling of an agent's mean cost over "
        "the cheapest candidate's (it does not fade). 0: cost plays no part.",
    )
    feedback_weight: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        validation_alias=AliasChoices("IMPERIUM_FEEDBACK_WEIGHT", "feedback_weight"),
        description="How much people's ratings of a task's result count in the router's "
        "reward for that attempt: (1 - weight) · success + weight · mean rating. 0: ratings "
        "are stored and shown, but do not change routing.",
    )
    cache_interval: float = interval(
        "IMPERIUM_CACHE_INTERVAL", 3600.0, "pruning the router's memory of removed agents"
    )

    @field_validator("learning_mode", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("learning_cycle_interval")
    @classmethod
    def _not_back_to_back(cls, value: float) -> float:
        if 0 < value < 60:
            raise ValueError(
                "must be 0 (cycles on demand only) or at least 60 seconds: a cycle reads "
                "and refits on up to IMPERIUM_LEARNING_HISTORY executions"
            )
        return value
