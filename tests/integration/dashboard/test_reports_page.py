"""The dashboard's Reports page and the report it opens, in-process on SQLite: linked from
the navigation, the report's figures are those of the tasks run, it runs no script, a bad
period is refused, and with keys in force it needs a signed-in session."""

from __future__ import annotations

import re

from imperium.domain.auth import Role
from imperium.domain.specs import TaskSpec
from imperium.interfaces.dashboard.pages import DASHBOARD_CSP
from imperium.interfaces.dashboard.reports import REPORT_CSP
from imperium.runtime import Imperium
from tests.integration.dashboard.test_pages import Inline, browser, sign_in


async def test_the_reports_page_opens_the_report(im: Imperium) -> None:
    for i in range(2):
        await im.engine.wait_for((await im.engine.submit(TaskSpec(type="echo", payload=i))).id)
    async with browser(im) as http:
        overview = await http.get("/")
        assert 'href="/reports"' in overview.text  # in the navigation
        page = await http.get("/reports")
        assert page.status_code == 200
        assert page.headers["content-security-policy"] == DASHBOARD_CSP
        checker = Inline()
        checker.feed(page.text)
        assert checker.problems == []
        assert 'href="/reports/weekly?period_days=7"' in page.text
        assert "Not mailed: set IMPERIUM_REPORT_RECIPIENTS" in page.text

        report = await http.get("/reports/weekly", params={"period_days": 7})
        assert report.status_code == 200
        assert report.headers["content-security-policy"] == REPORT_CSP
        assert "<script" not in report.text
        assert "<svg" in report.text
        assert re.search(r"<td>echo</td><td>2</td><td>2</td><td>100.0%</td>", report.text)

        refused = await http.get("/reports/weekly", params={"period_days": "-3"})
        assert refused.status_code == 422
        assert "period_days must be" in refused.text


async def test_with_keys_the_report_needs_a_signed_in_session(im: Imperium) -> None:
    _, reader = await im.keys.create("reader", Role.READ_ONLY)
    async with browser(im) as http:
        anonymous = await http.get("/reports/weekly")
        assert anonymous.status_code in (302, 303, 307)
        assert "/login" in anonymous.headers["location"]
        await sign_in(http, reader)
        assert (await http.get("/reports/weekly")).status_code == 200
