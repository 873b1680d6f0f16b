"""Reports: the periodic report of the last N days in the browser (the same HTML the
API and the mail carry) and its PDF when a renderer is installed."""

from __future__ import annotations

import math

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, Response

from imperium.interfaces.api.deps import services_of
from imperium.interfaces.dashboard.access import viewer
from imperium.interfaces.dashboard.pages import finish, render
from imperium.services.reports.ports import RenderError
from imperium.services.reports.service import MAX_PERIOD_DAYS, NoRendererError

router = APIRouter(include_in_schema=False)
PERIODS = (1, 7, 30)
# The report is one document with inline CSS and SVG and no script: it may style itself
# and nothing else (it runs nothing, loads nothing).
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'"


def _days(request: Request) -> float | None:
    """The period asked for (7 when none); None when it is not a number in range."""
    raw = request.query_params.get("period_days", "7").strip()[:20]
    try:
        days = float(raw)
    except ValueError:
        return None
    return days if math.isfinite(days) and 0 < days <= MAX_PERIOD_DAYS else None


@router.get("/reports")
async def reports_page(request: Request) -> Response:
    who = await viewer(request)
    services = services_of(request.app)
    settings = services.settings
    recipients = settings.split(settings.report_recipients)
    return render(
        request, who, "reports.html", periods=PERIODS,
        renderer=services.reports.renderer.name if services.reports.renderer else None,
        renderer_note=services.reports.renderer_note, recipients=len(recipients),
        mailed=bool(recipients and settings.smtp_host and settings.report_interval),
        interval_days=settings.report_interval / 86400, period_days=settings.report_period_days,
    )  # fmt: skip


@router.get("/reports/weekly")
async def report_html(request: Request) -> Response:
    who = await viewer(request)
    days = _days(request)
    if days is None:
        return render(request, who, "reports.html", status=422, periods=PERIODS,
                      error=f"period_days must be a number of days above 0 and at most "
                      f"{MAX_PERIOD_DAYS}")  # fmt: skip
    reports = services_of(request.app).reports
    report = await reports.report(days)
    response = finish(request, who, HTMLResponse(reports.html(report)))
    response.headers["Content-Security-Policy"] = REPORT_CSP
    return response


@router.get("/reports/weekly.pdf")
async def report_pdf(request: Request) -> Response:
    who = await viewer(request)
    days = _days(request)
    if days is None:
        return finish(request, who, Response("period_days is out of range", 422))
    reports = services_of(request.app).reports
    try:
        pdf = await reports.pdf(await reports.report(days))
    except (NoRendererError, RenderError) as exc:
        return finish(request, who, Response(f"No PDF: {exc}", 503, media_type="text/plain"))
    headers = {"Content-Disposition": f'attachment; filename="imperium-report-{days:g}d.pdf"'}
    return finish(request, who, Response(pdf, media_type="application/pdf", headers=headers))
