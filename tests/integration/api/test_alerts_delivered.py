"""An alert end to end in a served runtime: a rule on ``task.dead`` made through the API,
a task that fails its only attempt, a signed alert at a local HTTP receiver, and the
delivery listed by the API (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from imperium.domain.alerts import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    AlertTarget,
    TargetKind,
    verify,
)
from imperium.runtime import Imperium, Offline
from tests.integration.api.conftest import register, submit, until_ended
from tests.integration.notify.test_delivery import Receiver

FAILS = "tests.support.agents:always_fails"


@pytest.fixture
def hook() -> Iterator[Receiver]:
    receiver = Receiver([])  # answers 200
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


async def delivered(client: httpx.AsyncClient, rule_id: str) -> list[dict[str, Any]]:
    async with asyncio.timeout(20):
        while True:
            response = await client.get("/api/v1/alerts/deliveries", params={"rule_id": rule_id})
            items: list[dict[str, Any]] = response.json()["items"]
            if items:
                return items
            await asyncio.sleep(0.05)


async def test_a_dead_task_reaches_the_webhook_signed_and_is_listed(
    client: httpx.AsyncClient, hook: Receiver
) -> None:
    target = {"kind": "webhook", "address": hook.url, "secret": "s3cret-key"}
    body = {"name": "dead", "event_types": ["task.dead"], "targets": [target]}
    created = await client.post("/api/v1/alerts/rules", json=body)
    assert created.status_code == 201, created.text
    rule_id = created.json()["id"]
    await register(client, "fails", FAILS)
    task = await submit(client, type="fails", max_attempts=1)
    assert (await until_ended(client, task["id"]))["state"] == "dead"

    [attempt] = await delivered(client, rule_id)
    assert (attempt["delivered"], attempt["status_code"], attempt["attempt"]) == (True, 200, 1)
    assert (attempt["event_type"], attempt["subject"]) == ("task.dead", f"task:{task['id']}")
    [(headers, raw)] = hook.requests
    assert verify("s3cret-key", headers[TIMESTAMP_HEADER], raw, headers[SIGNATURE_HEADER])
    alert = json.loads(raw)
    assert (alert["rule_id"], alert["event_type"]) == (rule_id, "task.dead")
    assert alert["data"]["task_id"] == task["id"]


async def test_a_rule_added_by_the_cli_reaches_the_running_server(
    im: Imperium, client: httpx.AsyncClient, hook: Receiver
) -> None:
    offline = await Offline.open(im.settings)  # what `imperium alerts rules add` opens
    try:
        rule = await offline.alerts.create_rule(
            name="from the cli", event_types=("task.dead",),
            targets=(AlertTarget(TargetKind.WEBHOOK, hook.url),),
        )  # fmt: skip
    finally:
        await offline.close()
    assert im.routines is not None
    routine = await im.routines.run_now("alert_rules")  # it runs every 10 s by default
    assert routine.last_result["changed"] is True
    await register(client, "fails", FAILS)
    task = await submit(client, type="fails", max_attempts=1)
    await until_ended(client, task["id"])
    [attempt] = await delivered(client, rule.id)
    assert attempt["delivered"]
    assert attempt["subject"] == f"task:{task['id']}"
