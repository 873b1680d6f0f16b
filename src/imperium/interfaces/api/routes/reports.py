"""``/api/v1/reports``: the periodic report of the last N days, as JSON, HTML (inline SVG
charts, no script) or PDF (when a renderer is installed; otherwise a 503 that says so)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response

from imperium.interfaces.api.deps import Reports
from imperium.interfaces.api.problems import problem
from imperium.interfaces.api.schemas import problems
from imperium.services.reports.ports import RenderError
from imperium.services.reports.service import MAX_PERIOD_DAYS, NoRendererError

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])

Days = Annotated[
    float,
    Query(gt=0, le=MAX_PERIOD_DAYS, allow_inf_nan=False,
          description="How many days, up to now, the report covers."),
]  # fmt: skip
Format = Annotated[Literal["json", "html", "pdf"], Query(description="json, html or pdf")]


@router.get(
    "/weekly",
    responses={
        200: {"content": {"text/html": {}, "application/pdf": {}}},
        **problems(422, 503),
    },
)
async def weekly(reports: Reports, period_days: Days = 7.0, format: Format = "json") -> Any:
    """Throughput, success per task type, the best and worst agents with 95% Wilson
    intervals, insights, drift alarms, cost and feedback over the last ``period_days``."""
    report = await reports.report(period_days)
    name = f"imperium-report-{period_days:g}d"
    if format == "json":
        return report.as_json()
    if format == "html":
        return Response(reports.html(report), media_type="text/html; charset=utf-8")
    try:
        pdf = await reports.pdf(report)
    except NoRendererError as exc:
        return problem(503, "Service Unavailable", f"{exc}; ask for format=html instead")
    except RenderError as exc:
        return problem(503, "Service Unavailable",
                       f"the PDF renderer failed: {exc}; ask for format=html instead")  # fmt: skip
    return Response(
        pdf, media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}.pdf"'},
    )  # fmt: skip
