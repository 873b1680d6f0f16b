"""The notification settings: alert rules' routines and deliveries, SMTP, and the mailed report."""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field

from imperium.settings._base import SettingsBase, interval


class NotifySettings(SettingsBase):
    """Alerts, their email, and the periodic report."""

    alert_queue_interval: float = interval(
        "IMPERIUM_ALERT_QUEUE_INTERVAL", 15.0,
        "checks of the oldest ready task's wait against the queue.wait alert rules",
    )  # fmt: skip
    smtp_host: str = Field(
        default="",
        validation_alias=AliasChoices("IMPERIUM_SMTP_HOST", "smtp_host"),
        description="The SMTP server alerts with email targets go through (empty: no email; "
        "a rule with an email target is refused).",
    )
    smtp_port: int = Field(
        default=587,
        ge=1,
        le=65535,
        validation_alias=AliasChoices("IMPERIUM_SMTP_PORT", "smtp_port"),
        description="Its port: 587 for starttls, 465 for ssl, 25 for a local relay.",
    )
    smtp_from: str = Field(
        default="imperium@localhost",
        validation_alias=AliasChoices("IMPERIUM_SMTP_FROM", "smtp_from"),
        description="The From address of alert emails.",
    )
    smtp_security: Literal["starttls", "ssl", "none"] = Field(
        default="starttls",
        validation_alias=AliasChoices("IMPERIUM_SMTP_SECURITY", "smtp_security"),
        description="starttls (upgrade a plain connection), ssl (TLS from the start) or none "
        "(a local relay only: the mail and any password travel in clear).",
    )
    smtp_user: str = Field(
        default="",
        validation_alias=AliasChoices("IMPERIUM_SMTP_USER", "smtp_user"),
        description="The user to log in as (empty: no login).",
    )
    smtp_password_env: str = Field(
        default="",
        validation_alias=AliasChoices("IMPERIUM_SMTP_PASSWORD_ENV", "smtp_password_env"),
        description="The NAME of the environment variable holding the SMTP password, read "
        "at each send and never stored (e.g. SMTP_PASSWORD).",
    )
    alert_reload_interval: float = interval(
        "IMPERIUM_ALERT_RELOAD_INTERVAL", 10.0,
        "re-reading the alert rules (changes made with `imperium alerts` reach a running "
        "server) and pruning expired cooldowns",
    )  # fmt: skip
    alert_max_deliveries: int = Field(
        default=100,
        ge=1,
        le=100_000,
        validation_alias=AliasChoices("IMPERIUM_ALERT_MAX_DELIVERIES", "alert_max_deliveries"),
        description="Deliveries (one alert to one target, with its retries) under way at "
        "once; an alert raised beyond that is not sent and is recorded as dropped.",
    )
    report_recipients: str = Field(
        default="",
        validation_alias=AliasChoices("IMPERIUM_REPORT_RECIPIENTS", "report_recipients"),
        description="Email addresses the periodic report is mailed to, comma-separated "
        "(empty: not mailed). Needs IMPERIUM_SMTP_HOST.",
    )
    report_interval: float = Field(
        default=7 * 86400.0,
        ge=0,
        le=366 * 86400,
        validation_alias=AliasChoices("IMPERIUM_REPORT_INTERVAL", "report_interval"),
        description="Seconds between report mails (0: off; default a week).",
    )
    report_period_days: float = Field(
        default=7.0,
        gt=0,
        le=366,
        validation_alias=AliasChoices("IMPERIUM_REPORT_PERIOD_DAYS", "report_period_days"),
        description="How many days the mailed report covers.",
    )
    report_pdf_renderer: str = Field(
        default="auto",
        validation_alias=AliasChoices("IMPERIUM_REPORT_PDF_RENDERER", "report_pdf_renderer"),
        description="The headless Chromium/Chrome that renders the report's PDF: a path or "
        "command, auto (chromium, chromium-browser, google-chrome on PATH) or none (HTML only).",
    )
