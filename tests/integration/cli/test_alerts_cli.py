"""``imperium alerts rules list | add | remove`` and ``imperium alerts deliveries``
in-process against SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json

from imperium.adapters.storage.alerts import SqlAlertStore
from imperium.adapters.storage.sql import SqlStore
from imperium.domain.alerts import DeliveryAttempt

SECRET = "s3cret-signing-key"


def record(url: str, *attempts: DeliveryAttempt) -> None:
    async def go() -> None:
        store = await SqlStore.connect(url)
        try:
            await SqlAlertStore(store.database).record_attempts(attempts)
        finally:
            await store.close()

    asyncio.run(go())


def test_add_list_deliveries_remove(cli, migrated_database_url, monkeypatch) -> None:
    monkeypatch.setenv("OPS_SECRET", SECRET)
    added = cli(
        "alerts", "rules", "add", "dead to ops", "--event", "task.dead", "--event", "queue.wait",
        "--queue-wait", "60", "--webhook", "https://hooks.example/ops", "--secret-env",
        "OPS_SECRET", "--cooldown", "30", "--json",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    rule = json.loads(added.stdout)
    assert rule["targets"] == [
        {"kind": "webhook", "address": "https://hooks.example/ops", "secret_set": True}
    ]
    assert (rule["queue_wait_seconds"], rule["cooldown_seconds"]) == (60, 30)
    slack = cli("alerts", "rules", "add", "agents", "--event", "agent.*", "--webhook",
                "https://hooks.slack.example/x", "--slack")  # fmt: skip
    assert slack.exit_code == 0, slack.output

    listed = json.loads(cli("alerts", "rules", "list", "--json").stdout)
    assert [r["name"] for r in listed] == ["dead to ops", "agents"]
    assert listed[1]["targets"][0] == {
        "kind": "slack", "address": "https://hooks.slack.example/x", "secret_set": False
    }  # fmt: skip
    table = cli("alerts", "rules", "list").output
    assert "dead to ops" in table
    assert "secret set" in table
    assert "secret not set" in table
    assert SECRET not in table
    assert SECRET not in json.dumps(listed)

    record(
        migrated_database_url,
        DeliveryAttempt(rule["id"], "webhook:https://hooks.example/ops", "task.dead",
                        "task:t1", 1, 1000.0, status_code=503),
        DeliveryAttempt(rule["id"], "webhook:https://hooks.example/ops", "task.dead",
                        "task:t1", 2, 1002.0, status_code=200, delivered=True),
        DeliveryAttempt("other", "email:a@b.example", "agent.lost", "agent:a", 1, 1001.0,
                        error="no sender for email"),
    )  # fmt: skip
    mine = json.loads(cli("alerts", "deliveries", "--rule", rule["id"], "--json").stdout)
    assert [(d["attempt"], d["delivered"]) for d in mine] == [(2, True), (1, False)]
    newest = json.loads(cli("alerts", "deliveries", "--limit", "1", "--json").stdout)
    assert [d["at"] for d in newest] == [1002.0]
    shown = cli("alerts", "deliveries").output
    assert "delivered" in shown
    assert "HTTP 503" in shown
    assert "no sender for email" in shown

    removed = cli("alerts", "rules", "remove", rule["id"])
    assert removed.exit_code == 0, removed.output
    assert "dead to ops" in removed.output
    left = json.loads(cli("alerts", "rules", "list", "--json").stdout)
    assert [r["name"] for r in left] == ["agents"]
    again = cli("alerts", "rules", "remove", rule["id"])
    assert again.exit_code == 1
    assert "no alert rule with id" in again.output


def test_mistakes_are_clear_messages(cli, monkeypatch) -> None:
    monkeypatch.delenv("NO_SUCH_SECRET", raising=False)
    hook = ("--webhook", "https://hooks.example/x")
    for args, phrase in [
        (("--event", "task.dead", "--webhook", "ftp://x.example"), "is an http(s) URL"),
        (("--event", "queue.wait", *hook), "needs queue_wait_seconds"),
        (("--event", "task.dead", "--email", "ops@example.com"), "IMPERIUM_SMTP_HOST"),
        (("--event", "task.dead", *hook, "--secret-env", "NO_SUCH_SECRET"), "not set"),
        (("--event", "task.dead"), "targets"),
    ]:
        result = cli("alerts", "rules", "add", "r", *args)
        assert result.exit_code == 1, (args, result.output)
        assert phrase in result.output, (args, result.output)
        assert "Traceback" not in result.output
    assert cli("alerts", "rules", "add", "dup", "--event", "task.dead", *hook).exit_code == 0
    dup = cli("alerts", "rules", "add", "dup", "--event", "task.dead", *hook)
    assert dup.exit_code == 1
    assert "exists already" in dup.output


def test_event_types_are_listed(cli) -> None:
    listed = cli("alerts", "event-types", "--json")
    assert listed.exit_code == 0, listed.output
    types = {row["event_type"] for row in json.loads(listed.stdout)}
    assert {"agent.budget_spent", "agent.custody_level", "agent.drift", "learning_cycle.failed",
            "task.dead", "queue.wait"} <= types  # fmt: skip
