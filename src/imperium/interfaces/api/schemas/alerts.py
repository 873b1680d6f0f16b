"""Bodies of ``/api/v1/alerts``: rules (their targets' secrets write-only) and deliveries."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from imperium.domain.alerts import TargetKind

Name = Annotated[str, Field(min_length=1, max_length=200)]
Pattern = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.*?\[\]-]+$")]


class TargetIn(BaseModel):
    """Where an alert goes: a webhook or Slack URL (http/https), or an email address."""

    model_config = ConfigDict(extra="forbid")

    kind: TargetKind
    address: Annotated[str, Field(min_length=3, max_length=2000)]
    secret: Annotated[str | None, Field(min_length=8, max_length=500)] = None
    """Webhooks: the HMAC key each body is signed with. Write-only: never returned. On a
    PATCH, a target that leaves it out keeps the secret of the same kind and address."""

    @model_validator(mode="after")
    def _address_fits_kind(self) -> TargetIn:
        if self.kind is TargetKind.EMAIL:
            local, at, domain = self.address.partition("@")
            if not (local and at and domain) or any(c.isspace() for c in self.address):
                raise ValueError(f"{self.address!r} is not an email address")
            if self.secret is not None:
                raise ValueError("an email target takes no secret (only webhooks are signed)")
        elif not self.address.startswith(("http://", "https://")):
            raise ValueError(f"a {self.kind.value} target's address is an http(s) URL")
        return self


Targets = Annotated[list[TargetIn], Field(min_length=1, max_length=20)]
Patterns = Annotated[list[Pattern], Field(min_length=1, max_length=50)]
Cooldown = Annotated[float, Field(ge=0, le=7 * 24 * 3600, allow_inf_nan=False)]
Wait = Annotated[float, Field(gt=0, le=7 * 24 * 3600, allow_inf_nan=False)]


class RuleIn(BaseModel):
    """A new rule: event types (``task.dead``, ``agent.*``, ``queue.wait``), targets."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    event_types: Patterns
    targets: Targets
    cooldown_seconds: Cooldown = 300.0
    queue_wait_seconds: Wait | None = None
    enabled: bool = True

    @field_validator("event_types")
    @classmethod
    def _lower(cls, value: list[str]) -> list[str]:
        return [p.lower() for p in value]


class RulePatch(BaseModel):
    """Changes to a rule; fields left out stay. ``targets`` replaces them all."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    event_types: Patterns | None = None
    targets: Targets | None = None
    cooldown_seconds: Cooldown | None = None
    queue_wait_seconds: Wait | None = None
    enabled: bool | None = None

    @field_validator("event_types")
    @classmethod
    def _lower(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else [p.lower() for p in value]

    @model_validator(mode="after")
    def _no_null(self) -> RulePatch:
        """``null`` leaves nothing out: a field sent as null would be stored as null (and
        break the rule). Only ``queue_wait_seconds`` may be cleared that way."""
        nulls = sorted(
            name
            for name in self.model_fields_set
            if getattr(self, name) is None and name != "queue_wait_seconds"
        )
        if nulls:
            raise ValueError(
                f"{', '.join(nulls)} cannot be null: leave a field out to keep it "
                "(only queue_wait_seconds may be null, to clear it)"
            )
        return self


class TargetOut(BaseModel):
    kind: TargetKind
    address: str
    secret_set: bool
    """Whether the webhook is signed (the secret itself is never returned)."""


class RuleOut(BaseModel):
    id: str
    name: str
    event_types: list[str]
    targets: list[TargetOut]
    cooldown_seconds: float
    queue_wait_seconds: float | None
    enabled: bool
    created_at: float


class RuleList(BaseModel):
    items: list[RuleOut]


class DeliveryOut(BaseModel):
    rule_id: str
    target: str
    event_type: str
    subject: str
    attempt: int
    at: float
    status_code: int | None
    error: str | None
    delivered: bool


class DeliveryList(BaseModel):
    items: list[DeliveryOut]


class EventTypeOut(BaseModel):
    event_type: str
    meaning: str


class EventTypeList(BaseModel):
    items: list[EventTypeOut]
