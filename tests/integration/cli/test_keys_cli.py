"""``imperium keys create | list | revoke | reset-open`` in-process against SQLite and
PostgreSQL."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from imperium.domain.auth import parse_key
from imperium.interfaces.cli.main import app


@pytest.fixture
def cli(migrated_database_url: str):
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):
        env = {"DATABASE_URL": migrated_database_url, "COLUMNS": "250"}
        return runner.invoke(app, [*args], env=env, input=input)

    return invoke


def test_create_list_revoke(cli) -> None:
    created = cli("keys", "create", "--name", "worker-3", "--role", "agent", "--agent", "w3")
    assert created.exit_code == 0, created.output
    assert "shown only once" in created.output
    [text] = [line for line in created.output.split() if line.startswith("imp_")]
    key_id = parse_key(text)[0]  # type: ignore[index]

    as_json = cli("keys", "create", "--name", "ops", "--json")
    admin = json.loads(as_json.stdout)
    assert (admin["role"], admin["agent_id"], admin["active"]) == ("admin", None, True)
    assert parse_key(admin["key"]) is not None

    listed = json.loads(cli("keys", "list", "--json").stdout)
    assert {k["id"]: k["role"] for k in listed} == {key_id: "agent", admin["id"]: "admin"}
    assert not any({"key", "secret_hash"} & set(k) for k in listed)
    table = cli("keys", "list").output
    assert "worker-3" in table
    assert "w3" in table

    revoked = cli("keys", "revoke", key_id, "--json")
    assert json.loads(revoked.stdout)["active"] is False
    again = cli("keys", "revoke", key_id)
    assert again.exit_code == 1
    assert "already revoked" in again.output


def test_mistakes_are_one_clear_line(cli) -> None:
    for args, phrase in [
        (("keys", "create", "--name", "x", "--role", "root"), "use one of admin, agent"),
        (("keys", "create", "--name", "x", "--role", "agent"), "must name its agent"),
        (("keys", "create", "--name", "x", "--agent", "a"), "takes no agent id"),
        (("keys", "revoke", "000000000000"), "no API key has id"),
        (("keys", "create", "--name", "x", "--capability", "echo"), "only agent keys limit"),
    ]:
        result = cli(*args)
        assert result.exit_code == 1, result.output
        assert phrase in result.output
        assert "Traceback" not in result.output


def test_an_agent_key_stores_the_capabilities_its_agent_may_offer(cli) -> None:
    args = ("keys", "create", "--name", "coder", "--role", "agent", "--agent", "c1")
    created = cli(*args, "--capability", "lint", "--capability", "echo", "--json")
    assert created.exit_code == 0, created.output
    assert json.loads(created.stdout)["capabilities"] == ["echo", "lint"]
    plain = json.loads(cli(*args, "--json").stdout)
    assert plain["capabilities"] == ["c1"]  # no list: the agent's own id alone
    listed = {k["id"]: k["capabilities"] for k in json.loads(cli("keys", "list", "--json").stdout)}
    assert listed == {json.loads(created.stdout)["id"]: ["echo", "lint"], plain["id"]: ["c1"]}
    assert "echo, lint" in cli("keys", "list").output
    assert "--capability" in cli("keys", "create", "--help").output


def test_reset_open_forgets_every_key_after_asking(cli) -> None:
    assert "no API keys exist" in cli("keys", "reset-open").output
    first = json.loads(cli("keys", "create", "--name", "a", "--json").stdout)
    cli("keys", "create", "--name", "b")
    cli("keys", "revoke", first["id"])

    declined = cli("keys", "reset-open", input="n\n")
    assert declined.exit_code == 1
    assert "Forget all 2 API keys (1 still active" in declined.output
    assert len(json.loads(cli("keys", "list", "--json").stdout)) == 2  # nothing changed

    done = cli("keys", "reset-open", input="y\n")
    assert done.exit_code == 0, done.output
    assert "forgot 2 API keys" in done.output
    assert json.loads(cli("keys", "list", "--json").stdout) == []
    cli("keys", "create", "--name", "c")
    assert "forgot 1 API keys" in cli("keys", "reset-open", "--yes").output
    assert "reset-open" in cli("keys", "--help").output
