"""``imperium keys create | list | revoke`` in-process against SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from imperium.domain.auth import parse_key
from imperium.interfaces.cli.main import app


@pytest.fixture
def cli(database_url: str):
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, [*args], env={"DATABASE_URL": database_url, "COLUMNS": "250"})

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
    ]:
        result = cli(*args)
        assert result.exit_code == 1, result.output
        assert phrase in result.output
        assert "Traceback" not in result.output
