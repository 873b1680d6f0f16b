"""``/api/v1/alerts``: alert rules (admin keys change them, read-only keys read them) and
the record of every delivery attempt. Targets' secrets are write-only: a rule shows only
whether each target has one. A webhook's URL is a credential too (a Slack webhook's path
is its token): only admin keys see it whole, others its scheme and host."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from imperium.domain.alerts import (
    EVENT_TYPES,
    AlertRule,
    AlertTarget,
    DeliveryAttempt,
    TargetKind,
)
from imperium.domain.auth import Principal, Role
from imperium.interfaces.api.auth import CurrentPrincipal
from imperium.interfaces.api.deps import Alerts
from imperium.interfaces.api.schemas import problems
from imperium.interfaces.api.schemas.alerts import (
    DeliveryList,
    EventTypeList,
    RuleIn,
    RuleList,
    RuleOut,
    RulePatch,
    TargetIn,
)

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])


@router.get("/rules", response_model=RuleList)
async def list_rules(alerts: Alerts, principal: CurrentPrincipal) -> dict[str, Any]:
    return {"items": [_rule_out(r, principal) for r in alerts.rules]}


@router.post("/rules", status_code=201, response_model=RuleOut, responses=problems(409, 422))
async def create_rule(body: RuleIn, alerts: Alerts) -> dict[str, Any]:
    rule = await alerts.create_rule(
        name=body.name, event_types=tuple(body.event_types), targets=_targets(body.targets, ()),
        cooldown_seconds=body.cooldown_seconds, queue_wait_seconds=body.queue_wait_seconds,
        enabled=body.enabled,
    )  # fmt: skip
    return _rule_out(rule)


@router.get("/rules/{rule_id}", response_model=RuleOut, responses=problems(404))
async def get_rule(rule_id: str, alerts: Alerts, principal: CurrentPrincipal) -> dict[str, Any]:
    return _rule_out(await alerts.rule(rule_id), principal)


@router.patch("/rules/{rule_id}", response_model=RuleOut, responses=problems(404, 409, 422))
async def change_rule(rule_id: str, body: RulePatch, alerts: Alerts) -> dict[str, Any]:
    rule = await alerts.rule(rule_id)
    changes: dict[str, Any] = body.model_dump(exclude_unset=True, exclude={"targets"})
    if "event_types" in changes:
        changes["event_types"] = tuple(changes["event_types"])
    if body.targets is not None:
        changes["targets"] = _targets(body.targets, rule.targets)
    changed = dataclasses.replace(rule, **changes)
    await alerts.save_rule(changed)
    return _rule_out(changed)


@router.delete("/rules/{rule_id}", status_code=204, responses=problems(404))
async def delete_rule(rule_id: str, alerts: Alerts) -> Response:
    await alerts.rule(rule_id)  # 404 when there is none
    await alerts.delete_rule(rule_id)
    return Response(status_code=204)


@router.get("/deliveries", response_model=DeliveryList)
async def list_deliveries(
    alerts: Alerts,
    principal: CurrentPrincipal,
    rule_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Delivery attempts, newest first (one per try per target)."""
    return {"items": [_delivery_out(a, principal) for a in await alerts.deliveries(rule_id, limit)]}


@router.get("/event-types", response_model=EventTypeList)
async def event_types() -> dict[str, Any]:
    """The event types worth an alert and what each means (a rule may name any type or
    shell-style pattern: these are the ones Imperium writes that people usually want)."""
    return {"items": [{"event_type": t, "meaning": m} for t, m in EVENT_TYPES.items()]}


def _targets(given: list[TargetIn], before: tuple[AlertTarget, ...]) -> tuple[AlertTarget, ...]:
    """The targets asked for; one without a secret keeps the secret it had (same kind and
    address), since clients never see secrets to send them back."""
    kept = {(t.kind, t.address): t.secret for t in before}
    return tuple(
        AlertTarget(t.kind, t.address, t.secret or kept.get((t.kind, t.address))) for t in given
    )


def _rule_out(rule: AlertRule, principal: Principal | None = None) -> dict[str, Any]:
    """The rule as shown to ``principal`` (None: the admin who just wrote it)."""
    whole = principal is None or principal.role is Role.ADMIN
    return {
        "id": rule.id,
        "name": rule.name,
        "event_types": list(rule.event_types),
        "targets": [
            {
                "kind": t.kind,
                "address": t.address if whole else _masked(t.kind, t.address),
                "secret_set": t.secret is not None,
            }
            for t in rule.targets
        ],
        "cooldown_seconds": rule.cooldown_seconds,
        "queue_wait_seconds": rule.queue_wait_seconds,
        "enabled": rule.enabled,
        "created_at": rule.created_at,
    }


def _masked(kind: str, address: str) -> str:
    """A webhook's scheme and host, its path and query hidden; an email address as is."""
    if kind == TargetKind.EMAIL:
        return address
    scheme, _, rest = address.partition("://")
    host = rest.split("/", 1)[0].split("?", 1)[0].rsplit("@", 1)[-1]
    return f"{scheme}://{host}/…"


def _delivery_out(attempt: DeliveryAttempt, principal: Principal) -> dict[str, Any]:
    shown = dataclasses.asdict(attempt)
    if principal.role is not Role.ADMIN:
        kind, _, address = attempt.target.partition(":")
        shown["target"] = f"{kind}:{_masked(kind, address)}"
    return shown
