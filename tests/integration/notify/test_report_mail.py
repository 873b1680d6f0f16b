"""The report mailed for real to a local SMTP server (aiosmtpd): text, HTML and the PDF
(from a stand-in browser that writes what --print-to-pdf names), each recipient's mail
recorded; the routine is off without recipients or SMTP; the PDF adapter's failures are
plain errors."""

from __future__ import annotations

import asyncio
import email
import email.policy
import shutil
import stat
import tempfile
import threading
from pathlib import Path
from typing import Any

import pytest

from imperium.adapters.notify.smtp import SmtpConfig, SmtpSender
from imperium.adapters.render.chromium import ChromiumPdf, find_renderer
from imperium.adapters.storage.memory import MemoryStore
from imperium.adapters.storage.memory.alerts import MemoryAlertStore
from imperium.adapters.storage.memory.reports import MemoryReportStore
from imperium.domain.models import Execution
from imperium.domain.states import Outcome
from imperium.services.reports.ports import RenderError
from imperium.services.reports.service import (
    REPORT_RULE,
    SOON,
    MailConfig,
    ReportMail,
    ReportService,
)
from tests.integration.notify.test_delivery import Inbox, smtp  # noqa: F401 (fixture)

NOW = 1_800_000_000.0

FAKE_BROWSER = """#!/bin/sh
# a stand-in for chromium: writes a small PDF where --print-to-pdf says
for arg in "$@"; do
  case "$arg" in --print-to-pdf=*) out="${arg#--print-to-pdf=}";; esac
done
printf '%%PDF-1.4 stand-in\\n' > "$out"
"""


class Clock:
    def now(self) -> float:
        return NOW

    def monotonic(self) -> float:
        return NOW


def executable(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def service(renderer: ChromiumPdf | None) -> ReportService:
    store = MemoryStore()
    for i in range(6):
        store.state.executions[(f"t{i}", 1)] = Execution(
            f"t{i}", 1, "alpha", "echo", 1.0, NOW - 100, NOW - 50 - i,
            Outcome.SUCCEEDED if i else Outcome.FAILED, 1,
        )  # fmt: skip
    return ReportService(MemoryReportStore(store.state), store, Clock(), renderer, "none here")


async def test_the_report_reaches_the_inbox_with_its_pdf(
    smtp: tuple[Inbox, int],  # noqa: F811
    tmp_path: Path,
) -> None:
    inbox, port = smtp
    sender = SmtpSender(SmtpConfig("127.0.0.1", port, "imperium@test", security="none"))
    recorded = MemoryAlertStore()
    renderer = ChromiumPdf(executable(tmp_path, "browser", FAKE_BROWSER))
    mail = ReportMail(
        service(renderer), sender, MailConfig(("ops@example.org", "lead@example.org"), 7.0),
        Clock(), record=recorded.record_attempts,
    )  # fmt: skip
    assert mail.off_reason() is None
    result = await mail.send()
    assert result["status"] == "ok"
    assert result["pdf"] == "pdf attached"
    [(sender_address, recipients, raw)] = inbox.messages
    assert sender_address == "imperium@test"
    assert sorted(recipients) == ["lead@example.org", "ops@example.org"]
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["Subject"] == "[Imperium] report of the last 7 days"
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "counted 6, succeeded 5 (83.3%" in text
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "<svg" in html
    assert "Success per task type" in html
    [pdf] = [p for p in message.iter_attachments() if p.get_content_type() == "application/pdf"]
    assert pdf.get_content().startswith(b"%PDF-1.4 stand-in")
    attempts = await recorded.list_attempts()
    assert {a.target for a in attempts} == {"email:ops@example.org", "email:lead@example.org"}
    assert all(a.rule_id == REPORT_RULE and a.delivered for a in attempts)


async def test_without_a_renderer_the_mail_is_html_only(
    smtp: tuple[Inbox, int],  # noqa: F811
) -> None:
    inbox, port = smtp
    sender = SmtpSender(SmtpConfig("127.0.0.1", port, "imperium@test", security="none"))
    result = await ReportMail(service(None), sender, MailConfig(("ops@example.org",)),
                              Clock()).send()  # fmt: skip
    assert result["status"] == "ok"
    assert result["pdf"] == "no PDF: none here"
    message = email.message_from_bytes(inbox.messages[0][2], policy=email.policy.default)
    assert list(message.iter_attachments()) == []


async def test_an_unreachable_mail_server_is_a_failed_run_recorded() -> None:
    sender = SmtpSender(SmtpConfig("127.0.0.1", 9, "imperium@test", security="none", timeout=2))
    recorded = MemoryAlertStore()
    mail = ReportMail(service(None), sender, MailConfig(("ops@example.org",)), Clock(),
                      record=recorded.record_attempts)  # fmt: skip
    result = await mail.send()
    assert result["status"] == "failed"
    assert "Error" in str(result["error"])
    [attempt] = await recorded.list_attempts()
    assert not attempt.delivered
    assert attempt.error


def test_the_routine_is_off_without_recipients_or_smtp() -> None:
    sender = SmtpSender(SmtpConfig("127.0.0.1", 25, "imperium@test"))
    no_one = ReportMail(service(None), sender, MailConfig(()), Clock()).routine()
    assert not no_one.active
    assert "IMPERIUM_REPORT_RECIPIENTS" in (no_one.off_reason or "")
    no_smtp = ReportMail(service(None), None, MailConfig(("a@b.c",)), Clock()).routine()
    assert not no_smtp.active
    assert "IMPERIUM_SMTP_HOST" in (no_smtp.off_reason or "")
    config = MailConfig(("a@b.c",), interval=3600)
    on = ReportMail(service(None), sender, config, Clock()).routine()
    assert on.active
    assert on.interval == 3600


async def test_a_renderer_that_fails_says_why(tmp_path: Path) -> None:
    broken = executable(tmp_path, "broken", "#!/bin/sh\necho 'cannot open display' >&2\nexit 3\n")
    with pytest.raises(RenderError, match="exited with 3 and wrote no PDF: cannot open display"):
        await ChromiumPdf(broken).render("<html></html>")


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")  # killed, not yet reaped by init


async def test_an_overrunning_renderer_is_killed_with_its_children(tmp_path: Path) -> None:
    pid_file = tmp_path / "helper.pid"
    helper = "sleep 300 </dev/null >/dev/null 2>&1 &"  # holds none of the renderer's pipes
    stuck = executable(tmp_path, "stuck", f"#!/bin/sh\n{helper}\necho $! > {pid_file}\n"
                       "exec sleep 300\n")  # fmt: skip
    with pytest.raises(RenderError, match="did not finish within 1 s"):
        await ChromiumPdf(stuck, timeout=1).render("<html></html>")
    child = int(pid_file.read_text())
    for _ in range(100):  # SIGKILL is delivered at once; allow the kernel a moment
        if _gone(child):
            break
        await asyncio.sleep(0.05)
    assert _gone(child)


async def test_renders_take_turns_and_their_files_are_handled_off_the_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "log"
    browser = executable(tmp_path, "browser", FAKE_BROWSER.replace(
        "printf", f"echo start >> {log}\nsleep 0.3\necho end >> {log}\nprintf"))  # fmt: skip
    threads: list[int] = []

    def spying(real: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            threads.append(threading.get_ident())
            return real(*args, **kwargs)

        return call

    monkeypatch.setattr(tempfile, "mkdtemp", spying(tempfile.mkdtemp))
    monkeypatch.setattr(shutil, "rmtree", spying(shutil.rmtree))
    renderer = ChromiumPdf(browser)
    pdfs = await asyncio.gather(renderer.render("<p>a</p>"), renderer.render("<p>b</p>"))
    assert all(pdf.startswith(b"%PDF-1.4 stand-in") for pdf in pdfs)
    assert log.read_text().split() == ["start", "end", "start", "end"]  # one at a time
    assert len(threads) == 4  # two work directories made and removed...
    assert threading.get_ident() not in threads  # ... none of it on the event loop's thread


def test_finding_the_renderer(tmp_path: Path) -> None:
    assert find_renderer("none")[0] is None
    missing, why = find_renderer("/no/such/chromium")
    assert missing is None
    assert "HTML only" in why
    found, _ = find_renderer(executable(tmp_path, "browser", FAKE_BROWSER))
    assert found is not None
    assert found.name.endswith("browser")


def test_the_first_mail_follows_the_last_one_delivered() -> None:
    sender = SmtpSender(SmtpConfig("127.0.0.1", 25, "imperium@test"))
    week = 7 * 86400.0
    mail = ReportMail(service(None), sender, MailConfig(("a@b.c",), interval=week), Clock())
    assert mail.routine().first_delay == SOON  # never sent: soon after start
    assert mail.routine(last_sent=NOW - 86400).first_delay == week - 86400  # on schedule
    assert mail.routine(last_sent=NOW - 2 * week).first_delay == SOON  # overdue: soon
