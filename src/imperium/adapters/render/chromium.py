"""``ChromiumPdf``: HTML to PDF with a headless Chromium (or Chrome), run as a process.

``find_renderer`` resolves the configured renderer: a path or command name, ``auto`` (the
first of ``CANDIDATES`` found on ``PATH``) or ``none``. It returns the renderer, or None and
why there is none, so that the API and the mail can say so plainly.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from imperium.services.reports.ports import RenderError

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


class ChromiumPdf:
    def __init__(self, path: str, timeout: float = 60.0) -> None:
        self.name = path
        self._timeout = timeout

    async def render(self, html: str) -> bytes:
        with tempfile.TemporaryDirectory(prefix="imperium-report-") as work:
            page, out = Path(work) / "report.html", Path(work) / "report.pdf"
            page.write_text(html, encoding="utf-8")
            process = await asyncio.create_subprocess_exec(
                self.name, "--headless", "--no-sandbox", "--disable-gpu",
                "--no-pdf-header-footer", f"--user-data-dir={work}/profile",
                f"--print-to-pdf={out}", page.as_uri(),
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
                env={**os.environ, "HOME": work},
            )  # fmt: skip
            try:
                async with asyncio.timeout(self._timeout):
                    _, err = await process.communicate()
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
                raise RenderError(
                    f"{self.name} did not finish within {self._timeout:g} s"
                ) from None
            if process.returncode != 0 or not out.exists() or out.stat().st_size == 0:
                tail = err.decode(errors="replace").strip().splitlines()[-1:] if err else []
                raise RenderError(
                    f"{self.name} exited with {process.returncode} and wrote no PDF"
                    + (f": {tail[0]}" if tail else "")
                )
            return out.read_bytes()


def find_renderer(configured: str) -> tuple[ChromiumPdf | None, str]:
    """The renderer ``configured`` names, or None and why (the second item says which)."""
    value = configured.strip()
    if value.lower() in ("", "none", "off"):
        return None, "PDF rendering is off (IMPERIUM_REPORT_PDF_RENDERER=none)"
    if value.lower() == "auto":
        for name in CANDIDATES:
            found = shutil.which(name)
            if found:
                return ChromiumPdf(found), f"rendered with {found}"
        return None, (
            f"no PDF renderer found (looked for {', '.join(CANDIDATES)} on PATH): install "
            "Chromium or set IMPERIUM_REPORT_PDF_RENDERER to its path; the report is HTML only"
        )
    found = shutil.which(value)
    if found is None:
        return None, (
            f"the PDF renderer {value!r} (IMPERIUM_REPORT_PDF_RENDERER) is not an executable "
            "found here; the report is HTML only"
        )
    return ChromiumPdf(found), f"rendered with {found}"
