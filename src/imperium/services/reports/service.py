"""``ReportService``: the report of the last N days, as JSON, HTML or PDF, and the routine
that mails it.

Insights are those stored by learning cycles within the period (the newest
``MAX_INSIGHTS``). A PDF needs a renderer (a headless browser); without one the service
says so (:class:`NoRendererError`) and the mail carries the HTML alone.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from imperium.domain.alerts import DeliveryAttempt
from imperium.domain.errors import ValidationError
from imperium.domain.reports import DAY, Report, build_report
from imperium.ports import Clock
from imperium.services.reports.html import render_html, render_text
from imperium.services.reports.ports import (
    Attachment,
    InsightSource,
    PdfRenderer,
    RenderError,
    ReportMailer,
    ReportStore,
)
from imperium.services.routines import Routine

log = logging.getLogger(__name__)

MAX_PERIOD_DAYS = 366
MAX_INSIGHTS = 20
INSIGHT_SCAN = 500
REPORT_RULE = "report:weekly"
"""The ``rule_id`` report mails are recorded under among alert deliveries."""
SOON = 300.0
"""Seconds after start before a report that is due (or was never sent) goes out."""


class NoRendererError(Exception):
    """No PDF renderer is configured or found."""


def check_period(period_days: float) -> float:
    if not (math.isfinite(period_days) and 0 < period_days <= MAX_PERIOD_DAYS):
        raise ValidationError(
            f"period_days must be more than 0 and at most {MAX_PERIOD_DAYS}, got {period_days}"
        )
    return period_days


class ReportService:
    def __init__(
        self,
        store: ReportStore,
        insights: InsightSource,
        clock: Clock,
        renderer: PdfRenderer | None = None,
        renderer_note: str = "no PDF renderer configured",
    ) -> None:
        self._store, self._insights, self._clock = store, insights, clock
        self.renderer = renderer
        self.renderer_note = renderer_note
        """Why there is no renderer (shown when a PDF is asked for and cannot be made)."""

    async def report(self, period_days: float = 7.0, until: float | None = None) -> Report:
        """The report of the ``period_days`` days up to ``until`` (default: now)."""
        check_period(period_days)
        end = self._clock.now() if until is None else until
        since = end - period_days * DAY
        figures = await self._store.period_figures(since, end)
        stored = await self._insights.list_insights(INSIGHT_SCAN)
        insights = [i for i in stored if since <= i.created_at < end][:MAX_INSIGHTS]
        return build_report(figures, self._clock.now(), insights)

    @staticmethod
    def html(report: Report) -> str:
        return render_html(report)

    async def pdf(self, report: Report) -> bytes:
        """The report as PDF; NoRendererError without a renderer, RenderError if it fails."""
        if self.renderer is None:
            raise NoRendererError(self.renderer_note)
        return await self.renderer.render(render_html(report))


@dataclass(frozen=True, slots=True)
class MailConfig:
    recipients: tuple[str, ...]
    period_days: float = 7.0
    interval: float = 7 * DAY
    """Seconds between mails (0: off)."""


RecordAttempts = Callable[[Sequence[DeliveryAttempt]], Awaitable[None]]


class ReportMail:
    """Builds the report and mails it (HTML, text, and the PDF when one can be made); each
    mail is recorded as a delivery attempt under ``REPORT_RULE``."""

    def __init__(
        self,
        reports: ReportService,
        mailer: ReportMailer | None,
        config: MailConfig,
        clock: Clock,
        record: RecordAttempts | None = None,
    ) -> None:
        self.reports, self.mailer, self.config, self.clock = reports, mailer, config, clock
        self.record = record

    def off_reason(self) -> str | None:
        if not self.config.recipients:
            return "no recipients: set IMPERIUM_REPORT_RECIPIENTS"
        if self.mailer is None:
            return "no SMTP server: set IMPERIUM_SMTP_HOST"
        bad = [r for r in self.config.recipients if not _is_address(r)]
        if bad:
            return f"IMPERIUM_REPORT_RECIPIENTS: not an email address: {', '.join(bad)}"
        return None

    async def send(self) -> dict[str, object]:
        reason = self.off_reason()
        if self.mailer is None or reason is not None:
            return {"status": "off", "reason": reason}
        report = await self.reports.report(self.config.period_days)
        html = render_html(report)
        attachments: list[Attachment] = []
        pdf_note: str
        try:
            pdf = await self.reports.pdf(report)
        except NoRendererError as exc:
            pdf_note = f"no PDF: {exc}"
        except RenderError as exc:
            pdf_note = f"no PDF: the renderer failed: {exc}"
            log.warning("the weekly report's PDF failed: %s", exc)
        else:
            attachments.append(Attachment("imperium-report.pdf", "application/pdf", pdf))
            pdf_note = "pdf attached"
        subject = f"[Imperium] report of the last {self.config.period_days:g} days"
        result = await self.mailer.send_report(
            self.config.recipients, subject, render_text(report), html, attachments
        )
        if self.record is not None:
            now = self.clock.now()
            attempts = [
                DeliveryAttempt(REPORT_RULE, f"email:{r}", "report.weekly", "report", 1, now,
                                250 if result.delivered else None, result.error,
                                result.delivered)
                for r in self.config.recipients
            ]  # fmt: skip
            try:
                await self.record(attempts)
            except Exception:
                log.exception("could not record the report's mail")
        status = "ok" if result.delivered else "failed"
        return {"status": status, "recipients": len(self.config.recipients), "pdf": pdf_note,
                "error": result.error}  # fmt: skip

    def first_delay(self, last_sent: float | None) -> float:
        """Seconds from now to the first mail: one interval after the last one delivered
        (a server restarted more often than the interval still mails on time), or soon
        when it is due or none was ever delivered."""
        if last_sent is None:
            return SOON
        return max(SOON, last_sent + self.config.interval - self.clock.now())

    def routine(self, last_sent: float | None = None) -> Routine:
        """The routine; ``last_sent``: when the last report mail was delivered."""
        return Routine(
            "weekly_report", self.config.interval, self.send,
            f"the report of the last {self.config.period_days:g} days mailed to "
            f"{len(self.config.recipients)} recipient(s)",
            off_reason=self.off_reason(), first_delay=self.first_delay(last_sent),
        )  # fmt: skip


def _is_address(text: str) -> bool:
    local, at, domain = text.partition("@")
    return bool(local and at and domain) and not any(c.isspace() for c in text)
