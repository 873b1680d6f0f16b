"""``guardian``: reviews Python code for security and quality with bandit, ruff and radon.

Task types ``code_review`` and ``security_scan`` run the same scan; ``security_scan``
defaults to bandit alone (security findings only), ``code_review`` to all three tools.

Payload — one of::

    {"code": "<python source>", "filename": "snippet.py"}   # at most 1 MB; scanned in a
                                                            # temporary directory, removed after
    {"path": "file or directory"}
    {"paths": ["file or directory", ...]}

with, optionally, ``"checks": ["bandit", "ruff", "radon"]``, ``"min_severity": "low" |
"medium" | "high" | "critical"`` (default low) and ``"complexity_threshold": 10``
(functions above it are reported; 10 means radon rank C and worse).

Directories are searched for ``.py`` files, skipping virtualenvs, ``node_modules``,
``__pycache__`` and VCS directories (links to directories are not followed); at most 2,000
files are scanned per task (more sets ``truncated`` and says so in ``notes``). Every file
is resolved to its real path (links included) before anything reads it: one outside the
allowed roots, or the server's own database, is not read but listed in ``skipped``; the
tools are given the real paths of the files that may be read, never a directory.

Result::

    {"findings": [{"tool", "rule", "severity", "confidence", "message", "file", "line",
                   "column", "end_line", "suggestion"}, ...],   # most severe first
     "summary": {"by_severity", "by_tool", "files_scanned", "files_found", "lines_scanned"},
     "tools": {"bandit": "1.9.4", ...}, "truncated": false, "notes": [...],
     "errors": [{"tool", "file", "message"}, ...],              # tools or files that failed
     "skipped": [{"file", "reason"}, ...]}   # not read: "outside IMPERIUM_FILE_ROOTS" or
                                            # "the server's database"

``file`` is relative to the directory common to the scanned paths (the snippet's
``filename`` for code). A tool that cannot run is listed in ``errors`` and the others go
on; when every requested tool fails, the attempt fails. ``assert`` findings (bandit B101,
ruff S101) are left out in test files (``test_*.py``, ``*_test.py``, ``conftest.py``,
files under ``tests/``), where asserts are the point; ruff's copy of a bandit finding on
the same line is left out too.

Agent configuration: ``timeout_seconds`` per tool run (default 300), ``allowed_roots``
(when set, paths outside these directories are refused, and files that resolve outside
them skipped) and ``denied_files`` (never read; the server lists its database files).
"""

from __future__ import annotations

import functools
import os.path
import re
import sys
import tempfile
import tokenize
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imperium.agents._code_scan import (
    SEVERITIES,
    FileSet,
    Finding,
    ToolRun,
    is_ruff_security_rule,
    run_bandit,
    run_radon,
    run_ruff,
    tool_version,
)
from imperium.agents._file_access import ANYWHERE, OUTSIDE_ROOTS, FileAccess
from imperium.agents.base import Agent, TaskContext, TaskFailed
from imperium.extras import missing, missing_message

TASK_TYPES = ("code_review", "security_scan")
TOOLS = ("bandit", "ruff", "radon")
DEFAULT_CHECKS = {"code_review": TOOLS, "security_scan": ("bandit",)}
MAX_SNIPPET_BYTES = 1_000_000
MAX_FILES = 2000
MAX_FINDINGS = 5000  # listed; the summary counts them all
DEFAULT_TIMEOUT = 300.0
SKIP_DIRS = frozenset(
    {".venv", "venv", "node_modules", "__pycache__", ".git", ".hg", ".svn", ".tox", ".nox"}
)
TEST_ONLY_RULES = frozenset({"B101", "S101"})
PAYLOAD_KEYS = (
    "code",
    "filename",
    "path",
    "paths",
    "checks",
    "min_severity",
    "complexity_threshold",
)
PAYLOAD_HELP = (
    'send {"code": "<python source>", "filename": "snippet.py"}, {"path": "<file or '
    'directory>"} or {"paths": [...]}, optionally with "checks" (any of bandit, ruff, '
    'radon), "min_severity" (low, medium, high or critical) and "complexity_threshold" '
    "(a whole number, at least 1)"
)


@dataclass(frozen=True, slots=True)
class ScanRequest:
    """A validated payload: either ``code`` or ``paths``."""

    checks: tuple[str, ...]
    min_severity: str = "low"
    complexity_threshold: int = 10
    code: str | None = None
    filename: str = "snippet.py"
    paths: tuple[Path, ...] = ()


def _bad_input(message: str, *, with_help: bool = True) -> TaskFailed:
    text = f"{message}; {PAYLOAD_HELP}" if with_help else message
    return TaskFailed(text, kind="bad_input", retryable=False)


# -- the payload ---------------------------------------------------------------------


def parse_request(task_type: str, payload: Any, access: FileAccess = ANYWHERE) -> ScanRequest:
    """The payload as a :class:`ScanRequest`, or TaskFailed(kind="bad_input") saying why."""
    if not isinstance(payload, dict):
        raise _bad_input(f"the payload must be an object, not {type(payload).__name__}")
    unknown = sorted(set(payload) - set(PAYLOAD_KEYS))
    if unknown:
        raise _bad_input(f"unknown payload keys {unknown}")
    given = [key for key in ("code", "path", "paths") if key in payload]
    if len(given) != 1:
        raise _bad_input(f"give exactly one of code, path or paths (got {given or 'none'})")
    options: dict[str, Any] = {
        "checks": _checks(payload.get("checks"), DEFAULT_CHECKS[task_type]),
        "min_severity": _min_severity(payload.get("min_severity", "low")),
        "complexity_threshold": _threshold(payload.get("complexity_threshold", 10)),
    }
    if "code" in payload:
        code, filename = _snippet(payload["code"], payload.get("filename", "snippet.py"))
        return ScanRequest(code=code, filename=filename, **options)
    if "filename" in payload:
        raise _bad_input('"filename" goes with "code" only')
    raw = [payload["path"]] if "path" in payload else payload["paths"]
    return ScanRequest(paths=_paths(raw, access), **options)


def _checks(value: Any, default: tuple[str, ...]) -> tuple[str, ...]:
    if value is None:
        return default
    if not isinstance(value, list) or not value or not all(v in TOOLS for v in value):
        raise _bad_input(f'"checks" must be a non-empty list drawn from {list(TOOLS)}')
    return tuple(tool for tool in TOOLS if tool in value)


def _min_severity(value: Any) -> str:
    if value not in SEVERITIES:
        raise _bad_input(f'"min_severity" must be one of {list(SEVERITIES)}, not {value!r}')
    return str(value)


def _threshold(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _bad_input(f'"complexity_threshold" must be a whole number >= 1, not {value!r}')
    return value


def _snippet(code: Any, filename: Any) -> tuple[str, str]:
    if not isinstance(code, str):
        raise _bad_input(f'"code" must be a string of Python source, not {type(code).__name__}')
    if len(code.encode("utf-8", "replace")) > MAX_SNIPPET_BYTES:
        raise _bad_input(
            f'"code" is larger than {MAX_SNIPPET_BYTES:,} bytes: send a "path" instead',
            with_help=False,
        )
    plain = isinstance(filename, str) and filename == Path(filename).name
    if not plain or not filename.endswith(".py") or filename.startswith("."):
        raise _bad_input(
            f'"filename" must be a plain file name ending in .py (no directories), not '
            f"{filename!r}",
            with_help=False,
        )
    return code, filename


def _paths(raw: Any, access: FileAccess) -> tuple[Path, ...]:
    if not isinstance(raw, list) or not raw or not all(isinstance(p, str) and p for p in raw):
        raise _bad_input('"path" must be a non-empty string and "paths" a non-empty list of them')
    return tuple(_existing_path(text, access) for text in raw)


def _existing_path(text: str, access: FileAccess) -> Path:
    path = Path(text).expanduser().resolve()
    problem = None
    refusal = access.refusal(path)
    if refusal == OUTSIDE_ROOTS:
        # first: whether a path outside the roots exists is none of the caller's business
        problem = f"is outside the allowed roots ({access.describe_roots()})"
    elif refusal is not None:
        problem = f"is {refusal}, which the agents never read"
    elif not path.exists():
        problem = "does not exist (on the agent's machine)"
    elif path.is_file() and path.suffix != ".py":
        problem = "is not a Python (.py) file or a directory"
    if problem:
        raise _bad_input(f"path '{text}' {problem}", with_help=False)
    return path


# -- the files -----------------------------------------------------------------------


def collect_files(
    paths: Sequence[Path], max_files: int = MAX_FILES, access: FileAccess = ANYWHERE
) -> FileSet:
    """The ``.py`` files under ``paths`` in path order, at most ``max_files`` of them, as
    real paths (links resolved): the tools are given these, never a link or a directory,
    so they cannot follow a link out of the roots. A file ``access`` refuses (a link
    leading out of the roots, the server's database) is skipped and said why."""
    seen: set[Path] = set()
    files: list[Path] = []
    unreadable: list[Path] = []
    skipped: list[tuple[Path, str]] = []
    for root in paths:
        for path in _walk(root, unreadable):
            real, refusal = path.resolve(), access.refusal(path)
            if refusal is not None:
                skipped.append((path, refusal))
            elif real not in seen:
                seen.add(real)
                if len(files) < max_files:
                    files.append(real)
    base = os.path.commonpath([str(p if p.is_dir() else p.parent) for p in paths])
    return FileSet(
        Path(base), tuple(files), found=len(seen), unreadable=tuple(unreadable),
        skipped=tuple(skipped),
    )  # fmt: skip


def _walk(root: Path, unreadable: list[Path]) -> Iterator[Path]:
    """Python files under ``root``; directory links are not followed (no cycles)."""
    if root.is_file():
        yield root
        return
    try:
        entries = sorted(root.iterdir())
    except OSError:
        unreadable.append(root)
        return
    for entry in entries:
        if entry.is_dir() and not entry.is_symlink():
            if entry.name not in SKIP_DIRS and not (entry / "pyvenv.cfg").exists():
                yield from _walk(entry, unreadable)
        elif entry.suffix == ".py" and entry.is_file():
            yield entry


# -- the scan ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScanReport:
    result: dict[str, Any]
    failures: dict[str, str]  # tool -> why it did not run
    timed_out: bool


def scan(files: FileSet, request: ScanRequest, timeout: float = DEFAULT_TIMEOUT) -> ScanReport:
    """Run the requested tools over ``files`` (bandit and ruff side by side)."""
    sources, errors = _read_sources(files)
    runners: dict[str, Callable[[], ToolRun]] = {
        "bandit": lambda: run_bandit(files, timeout),
        "ruff": lambda: run_ruff(files, timeout),
    }
    wanted = [tool for tool in runners if tool in request.checks and files.files]
    runs: dict[str, ToolRun] = {}
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {tool: pool.submit(runners[tool]) for tool in wanted}
        if "radon" in request.checks:
            runs["radon"] = run_radon(files, sources, request.complexity_threshold)
        runs.update((tool, future.result()) for tool, future in futures.items())
    return _report(files, sources, request, runs, errors)


def _read_sources(files: FileSet) -> tuple[dict[Path, str], list[dict[str, Any]]]:
    sources: dict[Path, str] = {}
    errors: list[dict[str, Any]] = []
    for path in files.files:
        try:
            with tokenize.open(path) as handle:  # honours PEP 263 encoding declarations
                sources[path] = handle.read()
        except (OSError, SyntaxError, UnicodeDecodeError) as exc:
            message = f"cannot read the file: {exc}"
            errors.append({"tool": "guardian", "file": files.relative(path), "message": message})
    return sources, errors


def _report(
    files: FileSet,
    sources: dict[Path, str],
    request: ScanRequest,
    runs: dict[str, ToolRun],
    errors: list[dict[str, Any]],
) -> ScanReport:
    failures = {tool: run.failure for tool, run in runs.items() if run.failure}
    errors = [{"tool": t, "file": None, "message": why} for t, why in failures.items()] + errors
    errors += [
        {"tool": "guardian", "file": files.relative(d), "message": "cannot list the directory"}
        for d in files.unreadable
    ]
    errors += [error for run in runs.values() for error in run.errors]
    by_file = {files.relative(path): source for path, source in sources.items()}
    findings = [f for run in runs.values() for f in run.findings]
    findings = _kept(findings, request.min_severity, by_file)
    result = {
        "findings": [f.as_dict() for f in findings[:MAX_FINDINGS]],
        "summary": _summary(findings, files, sources, request.checks),
        "tools": {tool: tool_version(tool) for tool in request.checks},
        "truncated": files.truncated or len(findings) > MAX_FINDINGS,
        "notes": _notes(files, len(findings)),
        "errors": errors,
        "skipped": [
            {"file": files.relative(path), "reason": reason} for path, reason in files.skipped
        ],
    }
    timed_out = any(run.timed_out for run in runs.values())
    return ScanReport(result=result, failures=failures, timed_out=timed_out)


def _kept(findings: list[Finding], min_severity: str, sources: dict[str, str]) -> list[Finding]:
    """The findings at or above ``min_severity``, most severe first, without asserts in
    tests and without ruff's copies of bandit's findings (reported or ``# nosec``)."""
    floor = SEVERITIES.index(min_severity)
    lines_of = functools.cache(lambda file: sources.get(file, "").splitlines())
    by_bandit = {(f.rule, f.file, f.line) for f in findings if f.tool == "bandit"}

    def keep(f: Finding) -> bool:
        if SEVERITIES.index(f.severity) < floor:
            return False
        if f.rule in TEST_ONLY_RULES and _is_test_file(f.file):
            return False
        if f.tool != "ruff" or not is_ruff_security_rule(f.rule):
            return True
        bandit_rule = "B" + f.rule[1:]
        if (bandit_rule, f.file, f.line) in by_bandit:
            return False
        return not _nosec(lines_of(f.file), f.line, bandit_rule)

    return sorted(filter(keep, findings), key=Finding.sort_key)


def _nosec(lines: list[str], line: int | None, bandit_rule: str) -> bool:
    """Whether ``line`` has a ``# nosec`` comment covering ``bandit_rule`` (ruff reads
    only ``# noqa``, so bandit's suppressions are applied to its copies here)."""
    if line is None or not 0 < line <= len(lines) or "nosec" not in lines[line - 1]:
        return False
    after = lines[line - 1].split("nosec", 1)[1]
    listed = re.findall(r"\bB\d{3}\b", after)
    return not listed or bandit_rule in listed


def _is_test_file(relative: str) -> bool:
    *dirs, name = relative.split("/")
    named = name.startswith("test_") or name.endswith("_test.py") or name == "conftest.py"
    return named or "tests" in dirs or "test" in dirs


def _summary(
    findings: list[Finding], files: FileSet, sources: dict[Path, str], checks: tuple[str, ...]
) -> dict[str, Any]:
    by_severity = dict.fromkeys(reversed(SEVERITIES), 0)
    by_tool = dict.fromkeys(checks, 0)
    for finding in findings:
        by_severity[finding.severity] += 1
        by_tool[finding.tool] += 1
    return {
        "by_severity": by_severity,
        "by_tool": by_tool,
        "files_scanned": len(files.files),
        "files_found": files.found,
        "lines_scanned": sum(len(source.splitlines()) for source in sources.values()),
    }


def _notes(files: FileSet, finding_count: int) -> list[str]:
    notes = []
    if files.truncated:
        notes.append(
            f"found {files.found} Python files and scanned the first {len(files.files)} "
            "(in path order): scan narrower paths to cover the rest"
        )
    if files.skipped:
        notes.append(
            f"{len(files.skipped)} files not read (they resolve outside the allowed roots, or "
            "are the server's database): listed in skipped"
        )
    if not files.files:
        notes.append("no Python (.py) files to scan under the given paths")
    if finding_count > MAX_FINDINGS:
        notes.append(
            f"{finding_count} findings: the {MAX_FINDINGS} most severe are listed; the "
            "summary counts all of them"
        )
    return notes


def _scan_snippet(code: str, request: ScanRequest, timeout: float) -> ScanReport:
    """Scan ``code`` as ``request.filename`` in a temporary directory, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="imperium-guardian-") as tmp:
        base = Path(tmp).resolve()
        path = base / request.filename
        path.write_text(code, encoding="utf-8", errors="replace")
        return scan(FileSet(base=base, files=(path,), found=1), request, timeout)


# -- the agent -----------------------------------------------------------------------


def _require_tools(checks: Sequence[str]) -> None:
    """TaskFailed (``not_installed``, not retried) naming the extra when a requested tool
    is missing: they come with ``imperium[guardian]``, which the base install leaves out."""
    absent = missing(*checks)
    if absent:
        message = missing_message(absent, "the Guardian's scan")
        raise TaskFailed(f"{message} (for {sys.executable})", kind="not_installed", retryable=False)


class GuardianAgent(Agent):
    description = "Reviews Python code for security and quality (bandit, ruff, radon findings)."
    blocking = True  # runs the tools as subprocesses

    def run_blocking(self, ctx: TaskContext) -> dict[str, Any]:
        if ctx.type not in TASK_TYPES:
            raise TaskFailed(
                f"the guardian agent does {' and '.join(TASK_TYPES)} tasks, not '{ctx.type}'",
                kind="bad_input",
                retryable=False,
            )
        access = FileAccess.from_config(self.config)
        request = parse_request(ctx.type, ctx.payload, access)
        _require_tools(request.checks)
        timeout = float(self.config.get("timeout_seconds", DEFAULT_TIMEOUT))
        if request.code is None:
            report = scan(collect_files(request.paths, access=access), request, timeout)
        else:
            report = _scan_snippet(request.code, request, timeout)
        if report.failures and len(report.failures) == len(request.checks):
            reasons = "; ".join(report.failures.values())
            raise TaskFailed(
                f"every requested tool failed: {reasons}",
                kind="tool_error",
                retryable=report.timed_out,
            )
        return report.result
