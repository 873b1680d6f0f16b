"""What the report needs: the period's figures, the stored insights, a PDF renderer and a
way to mail it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from imperium.domain.learning import Insight, InsightType
from imperium.domain.reports import PeriodFigures


class ReportStore(Protocol):
    async def period_figures(self, since: float, until: float) -> PeriodFigures:
        """The period's aggregates (``since`` <= time < ``until``)."""
        ...


class InsightSource(Protocol):
    async def list_insights(
        self, limit: int, insight_type: InsightType | None = None, cycle_id: str | None = None
    ) -> list[Insight]:
        """Newest first."""
        ...


class PdfRenderer(Protocol):
    name: str
    """What renders (the browser's path), for the report's notes and the status."""

    async def render(self, html: str) -> bytes:
        """The PDF of a complete HTML document; raises ``RenderError`` when it fails."""
        ...


class RenderError(Exception):
    """The renderer ran but gave no PDF (it crashed, timed out, wrote nothing)."""


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content_type: str  # e.g. application/pdf
    data: bytes


@dataclass(frozen=True, slots=True)
class MailResult:
    delivered: bool
    error: str | None = None


class ReportMailer(Protocol):
    async def send_report(
        self,
        recipients: Sequence[str],
        subject: str,
        text: str,
        html: str,
        attachments: Sequence[Attachment] = (),
    ) -> MailResult: ...
