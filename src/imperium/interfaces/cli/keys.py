"""``imperium keys …``: create, list and revoke API keys, and forget them all.

A running server sees a new key at once and a revoked one within a few seconds (it caches
lookups briefly). Once a key has been created, keys stay required, even when every key is
revoked; ``reset-open`` forgets them all, for a single-user server on loopback.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from imperium.domain.auth import Role
from imperium.interfaces.cli._common import console, err_console, offline, print_json, run, settings
from imperium.interfaces.records import key_dict

app = typer.Typer(
    help="API keys for the HTTP API (roles: admin, agent, read-only). Once a key has been "
    "created the API requires one, even after every key is revoked, until `imperium keys "
    "reset-open`.",
    no_args_is_help=True,
)

Database = Annotated[str | None, typer.Option("--database", help="Overrides DATABASE_URL.")]
Json = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


@app.command()
def create(
    name: Annotated[str, typer.Option(help="What the key is for, e.g. 'ci' or 'worker-3'.")],
    role: Annotated[
        str, typer.Option(help="admin (everything), read-only (reads), or agent (one agent).")
    ] = "admin",
    agent: Annotated[
        str | None, typer.Option(help="The agent an agent key acts for (agent keys only).")
    ] = None,
    capability: Annotated[
        list[str] | None,
        typer.Option(
            "--capability",
            help="Agent keys only, repeatable: a capability the key's agent may offer. The "
            "agent may register, and lease, only with capabilities listed here (so it is "
            "given only tasks that need them); without any, the agent's own id alone.",
        ),
    ] = None,
    database: Database = None,
    as_json: Json = False,
) -> None:
    """Create a key and print it. The key is shown only now: store it somewhere safe.

    An agent key (--role agent --agent ID) registers and leases for that agent only, with
    the capabilities given by --capability (default: the agent id alone, which is what an
    agent registered without capabilities offers)."""

    async def go() -> tuple[dict[str, Any], bool]:
        async with offline(settings(database)) as im:
            first = not await im.keys.enabled()
            key, text = await im.keys.create(name, Role.parse(role), agent, capability or ())
            return {**key_dict(key), "key": text}, first

    created, first = run(go())
    if first:
        err_console.print(
            "[yellow]warning:[/] this is the first key, so API keys are now on: every client "
            "of the API (workers, scripts, the dashboard, other tools) must send a key from "
            "now on, or is refused (401); give each its own with `imperium keys create`"
        )
    if as_json:
        print_json(created)
        return
    err_console.print(
        f"created {created['role']} key {created['id']} ({created['name']}); it is shown only "
        "once. Send it as 'Authorization: Bearer <key>' or set IMPERIUM_API_KEY:"
    )
    console.print(created["key"], soft_wrap=True)


@app.command("list")
def list_keys(database: Database = None, as_json: Json = False) -> None:
    """List keys (never their secrets)."""

    async def go() -> list[dict[str, Any]]:
        async with offline(settings(database)) as im:
            return [key_dict(k) for k in await im.keys.list()]

    rows = run(go())
    if as_json:
        print_json(rows)
        return
    table = Table("id", "name", "role", "agent", "capabilities", "created", "revoked")
    for row in rows:
        table.add_row(
            row["id"], row["name"], row["role"], row["agent_id"] or "",
            ", ".join(row["capabilities"] or ()), row["created_at"], row["revoked_at"] or "",
        )  # fmt: skip
    console.print(table)


@app.command()
def revoke(key_id: str, database: Database = None, as_json: Json = False) -> None:
    """Revoke a key for good; a running server refuses it within seconds."""

    async def go() -> dict[str, Any]:
        async with offline(settings(database)) as im:
            return key_dict(await im.keys.revoke(key_id))

    revoked = run(go())
    if as_json:
        print_json(revoked)
    else:
        console.print(f"revoked key {revoked['id']} ({revoked['name']})")


@app.command("reset-open")
def reset_open(
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    database: Database = None,
) -> None:
    """Forget every API key, active and revoked, so that a server on loopback needs no key
    again: anyone who can reach it acts as admin (a single-user tool). Revoking every key
    is not enough, on purpose: keys stay required once one has existed. A server listening
    beyond loopback still refuses every request until a new key is created."""
    cfg = settings(database)

    async def count() -> tuple[int, int]:
        async with offline(cfg) as im:
            keys = await im.keys.list()
            return len(keys), sum(1 for k in keys if k.active)

    total, active = run(count())
    if total == 0:
        console.print("no API keys exist: a server on loopback already needs none")
        return
    if not yes:
        typer.confirm(
            f"Forget all {total} API keys ({active} still active, and they stop working)? "
            "A server on loopback will then serve everyone who reaches it as admin",
            abort=True,
        )

    async def go() -> int:
        async with offline(cfg) as im:
            return await im.keys.reset()

    forgotten = run(go())
    console.print(
        f"forgot {forgotten} API keys: a server on loopback needs no key from now on (a "
        "running one within a few seconds); `imperium keys create` requires keys again"
    )
