"""Alerts delivered for real: to a local HTTP receiver (signed, retried after a 500 and a
429) and to a local SMTP server (aiosmtpd), each attempt recorded."""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller

from imperium.adapters.notify.smtp import SmtpConfig, SmtpSender
from imperium.adapters.notify.webhook import WebhookSender
from imperium.adapters.storage.memory.alerts import MemoryAlertStore
from imperium.domain.alerts import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    AlertRule,
    AlertTarget,
    TargetKind,
    verify,
)
from imperium.domain.models import Event
from imperium.services.notifications.service import AlertService, DeliveryConfig


class Clock:
    def __init__(self) -> None:
        self.at = 1_000_000.0

    def now(self) -> float:
        return self.at

    def monotonic(self) -> float:
        return self.at


class Receiver:
    """An HTTP server answering with ``statuses`` in turn (then 200), keeping requests."""

    def __init__(self, statuses: list[tuple[int, dict[str, str]]]) -> None:
        self.statuses = statuses
        self.requests: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                code, headers = receiver.statuses.pop(0) if receiver.statuses else (200, {})
                self.send_response(code)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver([(500, {}), (429, {"Retry-After": "3"})])
    thread = threading.Thread(target=r.server.serve_forever, daemon=True)
    thread.start()
    yield r
    r.server.shutdown()
    r.server.server_close()


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802
        self.messages.append(
            (envelope.mail_from, envelope.rcpt_tos, envelope.content)  # type: ignore[attr-defined]
        )
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    with socket.socket() as probe:  # a free port (the controller cannot start on port 0)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


def service(
    store: MemoryAlertStore, clock: Clock, delays: list[float], **senders: object
) -> AlertService:
    async def sleep(seconds: float) -> None:
        delays.append(seconds)

    return AlertService(
        store, {TargetKind(k): s for k, s in senders.items()}, clock,  # type: ignore[misc]
        DeliveryConfig(max_attempts=4, backoff_base=1.0, backoff_cap=60.0), sleep=sleep,
    )  # fmt: skip


async def test_a_signed_webhook_is_retried_after_500_and_429_and_recorded(
    receiver: Receiver,
) -> None:
    store, clock = MemoryAlertStore(), Clock()
    delays: list[float] = []
    alerts = service(store, clock, delays, webhook=WebhookSender(clock))
    target = AlertTarget(TargetKind.WEBHOOK, receiver.url, secret="s3cret")
    await alerts.save_rule(AlertRule("r1", "dead tasks", ("task.dead",), (target,), 0.0))

    alerts.on_events([Event("task.dead", clock.now(), task_id="t1", data={"attempts": 3}),
                      Event("task.succeeded", clock.now(), task_id="t2")])  # fmt: skip
    await alerts.drain()

    assert len(receiver.requests) == 3
    headers, body = receiver.requests[-1]
    assert verify("s3cret", headers[TIMESTAMP_HEADER], body, headers[SIGNATURE_HEADER])
    assert not verify("wrong", headers[TIMESTAMP_HEADER], body, headers[SIGNATURE_HEADER])
    sent = json.loads(body)
    assert (sent["event_type"], sent["subject"], sent["data"]["attempts"]) == (
        "task.dead", "task:t1", 3,
    )  # fmt: skip
    assert delays == [1.0, 3.0]  # backoff, then the receiver's Retry-After (longer)
    attempts = list(reversed(await store.list_attempts()))
    assert [(a.attempt, a.status_code, a.delivered) for a in attempts] == [
        (1, 500, False), (2, 429, False), (3, 200, True),
    ]  # fmt: skip
    assert {a.target for a in attempts} == {f"webhook:{receiver.url}"}


async def test_the_same_alert_is_sent_once_per_cooldown(receiver: Receiver) -> None:
    receiver.statuses.clear()
    store, clock = MemoryAlertStore(), Clock()
    delays: list[float] = []
    alerts = service(store, clock, delays, slack=WebhookSender(clock))
    target = AlertTarget(TargetKind.SLACK, receiver.url)
    await alerts.save_rule(
        AlertRule("r1", "offline", ("agent.*",), (target,), 0.0, cooldown_seconds=600.0)
    )
    offline = Event("agent.offline", clock.now(), agent_id="a1")
    alerts.on_events([offline, offline])
    clock.at += 599
    alerts.on_events([offline])
    await alerts.drain()
    assert len(receiver.requests) == 1
    headers, body = receiver.requests[0]
    assert json.loads(body) == {"text": "[Imperium] offline: agent.offline (agent:a1) agent_id=a1"}
    assert SIGNATURE_HEADER not in headers  # no secret, no signature
    clock.at += 1
    alerts.on_events([offline])
    await alerts.drain()
    assert len(receiver.requests) == 2


async def test_a_long_queue_wait_reaches_an_smtp_inbox(smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    store, clock = MemoryAlertStore(), Clock()
    delays: list[float] = []
    sender = SmtpSender(SmtpConfig("127.0.0.1", port, "imperium@example.org", security="none"))
    alerts = service(store, clock, delays, email=sender)
    target = AlertTarget(TargetKind.EMAIL, "ops@example.org")
    await alerts.save_rule(
        AlertRule("q", "queue", ("queue.wait",), (target,), 0.0, queue_wait_seconds=60.0)
    )
    assert alerts.check_queue_wait(clock.now() - 30) == 0
    assert alerts.check_queue_wait(None) == 0
    assert alerts.check_queue_wait(clock.now() - 90) == 1
    await alerts.drain()
    assert len(inbox.messages) == 1
    mail_from, rcpt, content = inbox.messages[0]
    assert (mail_from, rcpt) == ("imperium@example.org", ["ops@example.org"])
    message = email.message_from_bytes(content, policy=email.policy.default)
    assert message["Subject"] == "[Imperium] queue: queue.wait"
    assert "waited_seconds=90.0" in message.get_content()
    [attempt] = await store.list_attempts()
    assert (attempt.delivered, attempt.status_code, attempt.event_type) == (True, 250, "queue.wait")


async def test_an_unreachable_smtp_server_is_retried_and_recorded() -> None:
    store, clock = MemoryAlertStore(), Clock()
    delays: list[float] = []
    sender = SmtpSender(SmtpConfig("127.0.0.1", 1, "imperium@example.org", security="none"))
    alerts = service(store, clock, delays, email=sender)
    await alerts.save_rule(AlertRule(
        "r", "dead", ("task.dead",), (AlertTarget(TargetKind.EMAIL, "ops@example.org"),), 0.0
    ))  # fmt: skip
    alerts.on_events([Event("task.dead", clock.now(), task_id="t")])
    await alerts.drain()
    attempts = await store.list_attempts()
    assert len(attempts) == 4
    assert not any(a.delivered for a in attempts)
    assert all(a.error for a in attempts)
    assert delays == [1.0, 2.0, 4.0]
