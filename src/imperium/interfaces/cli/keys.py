"""``imperium keys …``: create, list and revoke API keys.

A running server sees a new key at once and a revoked one within a few seconds (it caches
lookups briefly).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from imperium.domain.auth import Role
from imperium.interfaces.cli._common import console, err_console, offline, print_json, run, settings
from imperium.interfaces.records import key_dict

app = typer.Typer(
    help="API keys for the HTTP API (roles: admin, agent, read-only).", no_args_is_help=True
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
    database: Database = None,
    as_json: Json = False,
) -> None:
    """Create a key and print it. The key is shown only now: store it somewhere safe."""

    async def go() -> dict[str, Any]:
        async with offline(settings(database)) as im:
            key, text = await im.keys.create(name, Role.parse(role), agent)
            return {**key_dict(key), "key": text}

    created = run(go())
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
    table = Table("id", "name", "role", "agent", "created", "revoked")
    for row in rows:
        table.add_row(
            row["id"], row["name"], row["role"], row["agent_id"] or "",
            row["created_at"], row["revoked_at"] or "",
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
