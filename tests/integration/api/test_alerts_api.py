"""/api/v1/alerts on a running runtime (SQLite and PostgreSQL): rules created, read,
changed and deleted; secrets written but never returned; bad rules refused with a clear
problem; read-only keys read but change nothing; deliveries listed newest first."""

from __future__ import annotations

from typing import Any

import httpx

from imperium.adapters.storage.alerts import SqlAlertStore
from imperium.adapters.storage.sql import SqlStore
from imperium.domain.alerts import AlertTarget, DeliveryAttempt, TargetKind
from imperium.domain.auth import Role
from imperium.interfaces.api import create_app
from imperium.runtime import Imperium
from tests.integration.api.conftest import problem

RULES = "/api/v1/alerts/rules"
HOOK = {"kind": "webhook", "address": "http://127.0.0.1:9/hook", "secret": "s3cret-key"}


def rule(**fields: Any) -> dict[str, Any]:
    return {"name": "dead tasks", "event_types": ["task.dead"], "targets": [HOOK], **fields}


async def test_a_rule_is_created_read_changed_and_deleted(
    client: httpx.AsyncClient, im: Imperium
) -> None:
    created = await client.post(RULES, json=rule(cooldown_seconds=60))
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["targets"] == [{"kind": "webhook", "address": HOOK["address"], "secret_set": True}]
    assert "s3cret-key" not in created.text
    rule_id = body["id"]
    assert [r.id for r in im.alerts.rules] == [rule_id]  # live at once
    listed = await client.get(RULES)
    assert [r["id"] for r in listed.json()["items"]] == [rule_id]
    assert "s3cret-key" not in listed.text
    # a target sent back without its secret (clients never see it) keeps it
    changed = await client.patch(
        f"{RULES}/{rule_id}",
        json={"enabled": False, "targets": [{"kind": "webhook", "address": HOOK["address"]}]},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["enabled"] is False
    assert changed.json()["targets"][0]["secret_set"] is True
    assert (await im.alerts.rule(rule_id)).targets[0].secret == "s3cret-key"
    got = await client.get(f"{RULES}/{rule_id}")
    assert (got.json()["name"], got.json()["cooldown_seconds"]) == ("dead tasks", 60.0)
    assert (await client.delete(f"{RULES}/{rule_id}")).status_code == 204
    assert (await client.get(RULES)).json()["items"] == []
    assert im.alerts.rules == ()


async def test_bad_rules_are_refused_clearly(client: httpx.AsyncClient) -> None:
    problem(await client.get(f"{RULES}/nope"), 404, "no alert rule with id nope")
    problem(await client.patch(f"{RULES}/nope", json={"enabled": True}), 404)
    problem(await client.delete(f"{RULES}/nope"), 404)
    problem(await client.post(RULES, json=rule(targets=[])), 422)
    problem(await client.post(RULES, json=rule(event_types=[])), 422)
    ftp = {"kind": "webhook", "address": "ftp://x"}
    problem(await client.post(RULES, json=rule(targets=[ftp])), 422, "http(s) URL")
    mail = {"kind": "email", "address": "ops@example.org"}
    problem(await client.post(RULES, json=rule(targets=[mail])), 422, "IMPERIUM_SMTP_HOST")
    problem(await client.post(RULES, json=rule(cooldown_seconds=-1)), 422)
    problem(await client.post(RULES, json=rule(event_types=["queue.wait"])), 422,
            "needs queue_wait_seconds")  # fmt: skip
    problem(await client.post(RULES, json=rule(queue_wait_seconds=30)), 422, "add 'queue.wait'")
    problem(await client.post(RULES, json=rule(color="red")), 422)
    first = await client.post(RULES, json=rule())
    assert first.status_code == 201
    problem(await client.post(RULES, json=rule()), 409, "named 'dead tasks' exists already")
    other = await client.post(RULES, json=rule(name="other"))
    url = f"{RULES}/{other.json()['id']}"
    problem(await client.patch(url, json={"name": "dead tasks"}), 409)
    problem(await client.patch(url, json={"queue_wait_seconds": 5}), 422, "queue.wait")
    problem(await client.get("/api/v1/alerts/deliveries?limit=0"), 422)
    problem(await client.get("/api/v1/alerts/deliveries?limit=100000"), 422)


async def test_read_only_keys_read_rules_but_change_nothing(im: Imperium) -> None:
    slack = "https://hooks.slack.com/services/T000/B000/XXXXSECRET?x=1"
    targets = (
        AlertTarget(TargetKind.SLACK, slack),
        AlertTarget(TargetKind.WEBHOOK, "http://h:8/a"),
    )
    await im.alerts.create_rule(name="r", event_types=("task.dead",), targets=targets)
    assert isinstance(im.store, SqlStore)
    await SqlAlertStore(im.store.database).record_attempts(
        [DeliveryAttempt("a", f"slack:{slack}", "task.dead", "task:t", 1, 1.0, 200)]
    )
    _, reader = await im.keys.create("reader", Role.READ_ONLY)
    _, admin = await im.keys.create("admin", Role.ADMIN)
    transport = httpx.ASGITransport(app=create_app(im))
    headers = {"Authorization": f"Bearer {reader}"}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://127.0.0.1", headers=headers
    ) as http:
        rules = (await http.get(RULES)).json()["items"]
        assert [r["name"] for r in rules] == ["r"]
        # a webhook's URL is its credential: a reader sees its scheme and host only
        shown = [t["address"] for t in rules[0]["targets"]]
        assert shown == ["https://hooks.slack.com/…", "http://h:8/…"]
        one = (await http.get(f"{RULES}/{rules[0]['id']}")).json()
        assert "SECRET" not in str(one)
        deliveries = await http.get("/api/v1/alerts/deliveries")
        assert deliveries.status_code == 200
        assert deliveries.json()["items"][0]["target"] == "slack:https://hooks.slack.com/…"
        whole = await http.get(RULES, headers={"Authorization": f"Bearer {admin}"})
        assert whole.json()["items"][0]["targets"][0]["address"] == slack
        problem(await http.post(RULES, json=rule()), 403, "read-only")
        problem(await http.delete(f"{RULES}/{rules[0]['id']}"), 403, "read-only")
    assert len(im.alerts.rules) == 1


async def test_deliveries_are_listed_newest_first_and_bounded(
    client: httpx.AsyncClient, im: Imperium
) -> None:
    assert isinstance(im.store, SqlStore)
    store = SqlAlertStore(im.store.database)  # attempts as the service records them
    await store.record_attempts(
        [DeliveryAttempt(rid, "webhook:http://x", "task.dead", "task:t", 1, at, 500, "boom")
         for rid, at in (("a", 1.0), ("b", 2.0), ("a", 3.0))]
    )  # fmt: skip
    items = (await client.get("/api/v1/alerts/deliveries")).json()["items"]
    assert [(d["rule_id"], d["at"]) for d in items] == [("a", 3.0), ("b", 2.0), ("a", 1.0)]
    only_a = await client.get("/api/v1/alerts/deliveries", params={"rule_id": "a", "limit": 1})
    assert [(d["rule_id"], d["at"], d["delivered"]) for d in only_a.json()["items"]] == [
        ("a", 3.0, False)
    ]


async def test_the_event_types_are_listed(memory_client: httpx.AsyncClient) -> None:
    response = await memory_client.get("/api/v1/alerts/event-types")
    assert response.status_code == 200
    meanings = {i["event_type"]: i["meaning"] for i in response.json()["items"]}
    assert "drift alarm" in meanings["agent.drift"]
    assert "budget" in meanings["agent.budget_spent"]


async def test_a_patch_with_nulls_is_refused_and_the_rule_kept(
    client: httpx.AsyncClient, im: Imperium
) -> None:
    """``{"cooldown_seconds": null}`` was stored as null: every later GET of the rules was a
    500 until the row was mended by hand; ``{"event_types": null}`` was a 500 at once."""
    created = await client.post(RULES, json=rule(event_types=["task.dead", "queue.wait"],
                                                  queue_wait_seconds=30))  # fmt: skip
    assert created.status_code == 201, created.text
    url = f"{RULES}/{created.json()['id']}"
    for field in ("name", "event_types", "targets", "cooldown_seconds", "enabled"):
        problem(await client.patch(url, json={field: None}), 422, f"{field} cannot be null")
    listed = await client.get(RULES)
    assert listed.status_code == 200, listed.text
    assert listed.json()["items"][0]["name"] == "dead tasks"
    assert listed.json()["items"][0]["cooldown_seconds"] == 300.0
    # queue_wait_seconds alone may be cleared with null (then queue.wait must go too)
    problem(await client.patch(url, json={"queue_wait_seconds": None}), 422, "queue_wait_seconds")
    cleared = await client.patch(url, json={"queue_wait_seconds": None,
                                            "event_types": ["task.dead"]})  # fmt: skip
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["queue_wait_seconds"] is None
