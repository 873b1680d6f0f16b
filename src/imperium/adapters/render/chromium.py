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
import signal
import tempfile
from pathlib import Path

from imperium.services.reports.ports import RenderError

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


class ChromiumPdf:
    """One render at a time (a Chromium takes hundreds of MB); the files are written, read
    and removed off the event loop; Chromium runs in its own process group, killed whole
    when it overruns or the caller gives up, so no helper process outlives the render."""

    def __init__(self, path: str, timeout: float = 60.0) -> None:
        self.name = path
        self._timeout = timeout
        self._slots = asyncio.Semaphore(1)

    async def render(self, html: str) -> bytes:
        async with self._slots:
            work = await asyncio.to_thread(_prepare, html)
            try:
                return await self._run(work)
            finally:
                await asyncio.to_thread(shutil.rmtree, work, True)

    async def _run(self, work: Path) -> bytes:
        page, out = work / "report.html", work / "report.pdf"
        process = await asyncio.create_subprocess_exec(
            self.name, "--headless", "--no-sandbox", "--disable-gpu",
            "--no-pdf-header-footer", f"--user-data-dir={work}/profile",
            f"--print-to-pdf={out}", page.as_uri(),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "HOME": str(work)}, start_new_session=True,
        )  # fmt: skip
        try:
            async with asyncio.timeout(self._timeout):
                _, err = await process.communicate()
        except TimeoutError:
            raise RenderError(f"{self.name} did not finish within {self._timeout:g} s") from None
        finally:
            _kill_group(process.pid)  # its helpers too, whether it ended or not
            if process.returncode is None:
                await process.wait()
        pdf = await asyncio.to_thread(_read, out)
        if process.returncode != 0 or not pdf:
            tail = err.decode(errors="replace").strip().splitlines()[-1:] if err else []
            raise RenderError(
                f"{self.name} exited with {process.returncode} and wrote no PDF"
                + (f": {tail[0]}" if tail else "")
            )
        return pdf


def _prepare(html: str) -> Path:
    work = Path(tempfile.mkdtemp(prefix="imperium-report-"))
    (work / "report.html").write_text(html, encoding="utf-8")
    return work


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return b""


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


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
