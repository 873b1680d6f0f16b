"""``imperium alerts …``: alert rules (list, add, remove) and the record of their deliveries.

Rules are checked as the API checks them (its request body, then ``AlertService``), and
kept in the same tables. A running server loads rules when it starts and when the API
changes them: one added or removed here takes effect at the server's next start.
Webhook secrets are read from an environment variable, never from the command line (which
other users may see), and are never printed.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from imperium.domain.alerts import EVENT_TYPES, AlertRule, AlertTarget, TargetKind
from imperium.domain.errors import ValidationError
from imperium.interfaces.cli._common import (
    console,
    fail,
    offline,
    print_json,
    run,
    settings,
    short_time,
)

app = typer.Typer(
    help="Alert rules (events such as task.dead, or queue.wait, sent to webhooks, Slack or "
    "email) and their deliveries. A running server picks up rule changes made here at its "
    "next start; the API (/api/v1/alerts) changes them at once.",
    no_args_is_help=True,
)
rules_app = typer.Typer(help="List, add and remove alert rules.", no_args_is_help=True)
app.add_typer(rules_app, name="rules")

Database = Annotated[str | None, typer.Option("--database", help="Overrides DATABASE_URL.")]
Json = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def rule_dict(rule: AlertRule) -> dict[str, Any]:
    """A rule as shown: each target says whether it has a secret, never the secret."""
    return {
        "id": rule.id,
        "name": rule.name,
        "event_types": list(rule.event_types),
        "targets": [
            {"kind": t.kind.value, "address": t.address, "secret_set": t.secret is not None}
            for t in rule.targets
        ],
        "cooldown_seconds": rule.cooldown_seconds,
        "queue_wait_seconds": rule.queue_wait_seconds,
        "enabled": rule.enabled,
        "created_at": rule.created_at,
    }


@rules_app.command("list")
def list_rules(database: Database = None, as_json: Json = False) -> None:
    """List alert rules (a target's secret shows only as set or not set)."""

    async def go() -> list[dict[str, Any]]:
        async with offline(settings(database)) as im:
            await im.alerts.load()
            return [rule_dict(r) for r in im.alerts.rules]

    rows = run(go())
    if as_json:
        print_json(rows)
        return
    table = Table("name", "events", "targets", "cooldown", "queue wait", "enabled")
    table.add_column("id", no_wrap=True)
    for row in rows:
        targets = "\n".join(
            f"{t['kind']}:{t['address']} (secret {'set' if t['secret_set'] else 'not set'})"
            for t in row["targets"]
        )
        wait = row["queue_wait_seconds"]
        table.add_row(
            escape(row["name"]), ", ".join(row["event_types"]), escape(targets),
            f"{row['cooldown_seconds']:g}s", "" if wait is None else f"{wait:g}s",
            "yes" if row["enabled"] else "no", row["id"],
        )  # fmt: skip
    console.print(table)


@rules_app.command("add")
def add_rule(
    name: Annotated[str, typer.Argument(help="A unique name, e.g. 'dead tasks to ops'.")],
    event: Annotated[
        list[str],
        typer.Option(
            "--event",
            help="Repeatable: an event type or pattern (task.dead, agent.*, queue.wait).",
        ),
    ],
    webhook: Annotated[
        list[str] | None,
        typer.Option("--webhook", help="Repeatable: an http(s) URL the alert is POSTed to."),
    ] = None,
    slack: Annotated[
        bool, typer.Option("--slack", help="Send to the webhooks as Slack messages.")
    ] = False,
    secret_env: Annotated[
        str | None,
        typer.Option(
            "--secret-env",
            help="The environment variable holding the webhooks' signing secret (at least "
            "8 characters); the secret itself never goes on the command line.",
        ),
    ] = None,
    email: Annotated[
        list[str] | None,
        typer.Option("--email", help="Repeatable: an address (needs IMPERIUM_SMTP_HOST)."),
    ] = None,
    queue_wait: Annotated[
        float | None,
        typer.Option(
            "--queue-wait", help="queue.wait rules: seconds the oldest ready task may wait."
        ),
    ] = None,
    cooldown: Annotated[
        float,
        typer.Option(help="Seconds before the same alert (rule and subject) is sent again."),
    ] = 300.0,
    database: Database = None,
    as_json: Json = False,
) -> None:
    """Add an alert rule; it is checked as the API checks a new rule."""
    body = {
        "name": name,
        "event_types": event,
        "targets": _targets(webhook or [], slack, _secret(secret_env), email or []),
        "cooldown_seconds": cooldown,
        "queue_wait_seconds": queue_wait,
    }

    async def go() -> dict[str, Any]:
        async with offline(settings(database)) as im:
            return rule_dict(await im.alerts.create_rule(**_checked(body)))

    created = run(go())
    if as_json:
        print_json(created)
    else:
        console.print(f"added alert rule {created['id']} ({escape(created['name'])})")


@rules_app.command("remove")
def remove_rule(rule_id: str, database: Database = None) -> None:
    """Remove an alert rule (its delivery record stays)."""

    async def go() -> AlertRule:
        async with offline(settings(database)) as im:
            rule = await im.alerts.rule(rule_id)  # a message when there is none
            await im.alerts.delete_rule(rule_id)
            return rule

    removed = run(go())
    console.print(f"removed alert rule {removed.id} ({escape(removed.name)})")


@app.command()
def deliveries(
    rule: Annotated[str | None, typer.Option("--rule", help="Only this rule's.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many.")] = 100,
    database: Database = None,
    as_json: Json = False,
) -> None:
    """Delivery attempts, newest first: one per try per target."""

    async def go() -> list[dict[str, Any]]:
        async with offline(settings(database)) as im:
            return [dataclasses.asdict(a) for a in await im.alerts.deliveries(rule, limit)]

    rows = run(go())
    if as_json:
        print_json(rows)
        return
    table = Table("at", "rule", "target", "event", "subject", "try", "result")
    for row in rows:
        result = "delivered" if row["delivered"] else (row["error"] or f"HTTP {row['status_code']}")
        table.add_row(
            short_time(row["at"]), row["rule_id"], escape(row["target"]), row["event_type"],
            escape(row["subject"]), str(row["attempt"]), escape(result),
        )  # fmt: skip
    console.print(table)


@app.command("event-types")
def event_types(as_json: Json = False) -> None:
    """The event types worth an alert and what each means (rules may name any type or
    pattern, e.g. 'agent.*')."""
    if as_json:
        print_json([{"event_type": t, "meaning": m} for t, m in EVENT_TYPES.items()])
        return
    table = Table("event type", "meaning")
    for event_type, meaning in EVENT_TYPES.items():
        table.add_row(event_type, escape(meaning))
    console.print(table)


def _secret(variable: str | None) -> str | None:
    if variable is None:
        return None
    value = os.environ.get(variable)
    if not value:
        raise fail(f"--secret-env {variable}: that environment variable is not set or empty")
    return value


def _targets(
    webhooks: list[str], slack: bool, secret: str | None, emails: list[str]
) -> list[dict[str, Any]]:
    if secret is not None and not webhooks:
        raise fail("--secret-env signs webhooks: give --webhook URL too, or leave it out")
    if slack and not webhooks:
        raise fail("--slack sends to webhooks: give --webhook URL too")
    kind = TargetKind.SLACK if slack else TargetKind.WEBHOOK
    return [{"kind": kind, "address": url, "secret": secret} for url in webhooks] + [
        {"kind": TargetKind.EMAIL, "address": address} for address in emails
    ]


def _checked(body: dict[str, Any]) -> dict[str, Any]:
    """The API's checks of a new rule's body, as ``create_rule``'s fields."""
    from pydantic import ValidationError as PydanticValidationError

    from imperium.interfaces.api.schemas.alerts import RuleIn
    from imperium.interfaces.specs import describe

    try:
        rule = RuleIn.model_validate(body)
    except PydanticValidationError as exc:
        raise ValidationError(f"the rule is invalid: {describe(exc)}") from None
    return {
        "name": rule.name,
        "event_types": tuple(rule.event_types),
        "targets": tuple(AlertTarget(t.kind, t.address, t.secret) for t in rule.targets),
        "cooldown_seconds": rule.cooldown_seconds,
        "queue_wait_seconds": rule.queue_wait_seconds,
    }
