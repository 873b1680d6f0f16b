"""``SmtpSender``: an alert as a plain-text email, over the standard library's smtplib in
a thread (the event loop never waits on the mail server).

``security`` is ``starttls`` (upgrade a plain connection, port 587), ``ssl`` (TLS from the
start, port 465) or ``none`` (a local relay). The password is read from the environment
variable the settings name, when the send happens: it is never stored or logged.
"""

from __future__ import annotations

import asyncio
import os
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage

from imperium.domain.alerts import Alert, AlertTarget
from imperium.services.notifications.ports import SendResult
from imperium.services.reports.ports import Attachment, MailResult


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str
    port: int
    sender: str
    security: str = "starttls"  # starttls, ssl or none
    user: str | None = None  # log in as this user (None: no login)
    password_env: str | None = None
    timeout: float = 30.0


class SmtpSender:
    def __init__(self, config: SmtpConfig) -> None:
        self._config = config

    async def send(self, target: AlertTarget, alert: Alert) -> SendResult:
        message = EmailMessage()
        message["From"] = self._config.sender
        message["To"] = target.address
        message["Subject"] = f"[Imperium] {alert.rule_name}: {alert.event_type}"
        message.set_content(alert.text() + "\n")
        return await self.send_message(message)

    async def send_report(
        self,
        recipients: Sequence[str],
        subject: str,
        text: str,
        html: str,
        attachments: Sequence[Attachment] = (),
    ) -> MailResult:
        """A report: a text part, its HTML alternative and the attachments (a PDF)."""
        message = EmailMessage()
        message["From"] = self._config.sender
        message["To"] = ", ".join(recipients)
        message["Subject"] = subject
        message.set_content(text)
        message.add_alternative(html, subtype="html")
        for a in attachments:
            main, _, sub = a.content_type.partition("/")
            message.add_attachment(a.data, maintype=main, subtype=sub, filename=a.filename)
        result = await self.send_message(message)
        error = result.error
        if not result.delivered and error is None:
            error = f"SMTP status {result.status_code}"
        return MailResult(result.delivered, error)

    async def send_message(self, message: EmailMessage) -> SendResult:
        try:
            await asyncio.to_thread(self._send, message)
        except smtplib.SMTPResponseException as exc:
            return SendResult(False, status_code=exc.smtp_code, error=str(exc.smtp_error),
                              retryable=exc.smtp_code >= 400 and exc.smtp_code < 500)  # fmt: skip
        except (OSError, smtplib.SMTPException) as exc:
            return SendResult(False, error=f"{type(exc).__name__}: {exc}")
        return SendResult(True, status_code=250)

    def _send(self, message: EmailMessage) -> None:
        c = self._config
        if c.security == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                c.host, c.port, timeout=c.timeout, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(c.host, c.port, timeout=c.timeout)
        with client:
            if c.security == "starttls":
                client.starttls(context=ssl.create_default_context())
            if c.user:
                client.login(c.user, os.environ.get(c.password_env or "", ""))
            client.send_message(message)
