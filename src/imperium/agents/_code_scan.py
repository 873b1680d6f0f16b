"""The Guardian's tools: bandit, ruff and radon over a set of Python files, as findings.

bandit and ruff run as subprocesses of this interpreter (``sys.executable -m ...``, a
fixed argument list, no shell, a timeout); radon runs in-process through its API. Each
tool's output becomes :class:`Finding` records on one severity scale (low < medium < high
< critical), each with a suggestion. A tool that cannot run sets ``ToolRun.failure``.

ruff runs ``--isolated`` (no configuration of the scanned project applies) with
``--select E,F,W,B,S,UP,SIM --ignore E501``: pycodestyle errors and warnings, pyflakes,
bugbear, ruff's port of bandit (``S``, so a ruff-only scan still sees security problems),
pyupgrade and simplify. Line length (``E501``) is formatting, not review; mccabe (``C90``)
is left out because radon reports complexity against the payload's threshold.
"""

from __future__ import annotations

import ast
import json
import subprocess  # nosec B404 - runs bandit and ruff with fixed argument lists
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from imperium.extras import is_installed, missing_message

SEVERITIES = ("low", "medium", "high", "critical")
RUFF_SELECT = "E,F,W,B,S,UP,SIM"
RUFF_IGNORE = "E501"


@dataclass(frozen=True, slots=True)
class Finding:
    tool: str
    rule: str
    severity: str
    message: str
    file: str
    line: int | None
    column: int | None  # 1-based, as editors count
    end_line: int | None
    suggestion: str
    confidence: str | None = None  # bandit's; the other tools have none

    def as_dict(self) -> dict[str, Any]:
        return {
            "tool": self.tool,
            "rule": self.rule,
            "severity": self.severity,
            "confidence": self.confidence,
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "end_line": self.end_line,
            "suggestion": self.suggestion,
        }

    def sort_key(self) -> tuple[int, str, int, int, str, str]:
        """Most severe first, then by file and position."""
        rank = -SEVERITIES.index(self.severity)
        return (rank, self.file, self.line or 0, self.column or 0, self.tool, self.rule)


@dataclass(frozen=True, slots=True)
class FileSet:
    """The Python files to scan (absolute paths), reported relative to ``base``."""

    base: Path
    files: tuple[Path, ...]
    found: int  # how many there were before the file limit
    unreadable: tuple[Path, ...] = ()  # directories that could not be listed
    skipped: tuple[tuple[Path, str], ...] = ()  # files not read, and why (as found)

    @property
    def truncated(self) -> bool:
        return self.found > len(self.files)

    def relative(self, path: str | Path) -> str:
        full = self.base / path  # an absolute ``path`` replaces the base
        try:
            return full.relative_to(self.base).as_posix()
        except ValueError:
            return full.as_posix()


@dataclass(slots=True)
class ToolRun:
    """What one tool produced; ``failure`` says why when the tool did not run at all."""

    findings: list[Finding] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    failure: str | None = None
    timed_out: bool = False


def tool_version(tool: str) -> str | None:
    try:
        return metadata.version(tool)
    except metadata.PackageNotFoundError:
        return None


# -- severities and suggestions ------------------------------------------------------

_SHELL = "Pass a list of arguments and shell=False (subprocess.run([...])); no shell strings."
_HARDCODED = "Read secrets from the environment or a secret store instead of hard-coding them."
_PICKLE = (
    "Never unpickle data from outside the process: use json (validated against a schema) "
    "for untrusted data, or sign what you pickle (hmac) and check the signature first."
)
_XML = "Parse untrusted XML with defusedxml instead of the standard library parsers."
_EXCEPT = "Catch the narrowest exception you expect and handle or log it; do not drop it."
_HASH = "Use hashlib.sha256 or stronger, or pass usedforsecurity=False when it is not security."
SUGGESTIONS: dict[str, str] = {
    "B101": (
        "Do not use assert for authorisation or input checks (python -O removes it): test "
        "the condition and raise an exception (e.g. PermissionError)."
    ),
    "B102": "Avoid exec: call known functions chosen from a dict, or parse the input explicitly.",
    "B103": "Use restrictive permissions (0o600 for files, 0o700 for directories).",
    "B104": "Bind to a specific interface (127.0.0.1) or make the address configurable.",
    "B105": _HARDCODED,
    "B106": _HARDCODED,
    "B107": _HARDCODED,
    "B108": "Use tempfile.mkstemp() or tempfile.TemporaryDirectory(), not a fixed /tmp path.",
    "B110": _EXCEPT,
    "B112": _EXCEPT,
    "B113": "Pass timeout= to every HTTP request so a slow server cannot hang the caller.",
    "B201": "Never run Flask with debug=True outside development; read it from configuration.",
    "B301": _PICKLE,
    "B403": _PICKLE,
    "B303": _HASH,
    "B324": _HASH,
    "B306": "Use tempfile.mkstemp() or NamedTemporaryFile(); mktemp() is open to races.",
    "B307": "Use ast.literal_eval for literals, or parse the input explicitly; never eval input.",
    "B310": "Check the URL scheme is http or https before opening it, or use an HTTP client.",
    "B311": "Use the secrets module for tokens, passwords and keys; random is predictable.",
    "B314": _XML,
    "B318": _XML,
    "B320": _XML,
    "B405": _XML,
    "B408": _XML,
    "B410": _XML,
    "B404": "Make every subprocess call pass a list of arguments with shell=False.",
    "B501": "Keep TLS certificate verification on (verify=True).",
    "B506": "Use yaml.safe_load (or yaml.load(data, Loader=yaml.SafeLoader)).",
    "B602": _SHELL,
    "B604": _SHELL,
    "B605": _SHELL,
    "B603": "Check that untrusted input cannot choose the program or its arguments.",
    "B607": "Start the program by its full path (resolve it once with shutil.which).",
    "B608": "Use a parameterised query (placeholders) instead of building SQL from strings.",
    "B701": "Create the Jinja2 Environment with autoescape=True (or select_autoescape()).",
    "F401": "Remove the unused import (or list the name in __all__ if it is re-exported).",
    "F811": "Remove or rename the duplicate definition.",
    "F821": "Define or import the name before using it (check the spelling).",
    "F841": "Remove the unused variable, or assign to _ if the value is deliberately ignored.",
    "F541": "Remove the f prefix: the string has no placeholders.",
    "E711": "Compare with None using `is` / `is not`.",
    "E712": "Use the value's truth directly (`if x:` / `if not x:`), not == True/False.",
    "E722": "Catch a specific exception class (at least `except Exception:`), not everything.",
    "B006": "Use None as the default and create the list/dict/set inside the function.",
    "B008": "Call the function inside the body, or bind its result to a module-level constant.",
    "B904": "Inside except, raise the new exception `from err` (or `from None`).",
    "invalid-syntax": "Fix the syntax error; the file cannot be analysed until it parses.",
}
# Pyflakes reports that are hygiene rather than bugs; the rest (undefined names...) are high.
_PYFLAKES_SEVERITY = {"F401": "low", "F541": "low", "F841": "low", "F811": "medium"}
# ruff's ports of bandit rules, rated as bandit rates them; the others are medium.
_RUFF_SECURITY_SEVERITY = {
    **dict.fromkeys(["S101", "S105", "S106", "S107", "S110", "S112", "S311"], "low"),
    **dict.fromkeys(["S603", "S607"], "low"),
    **dict.fromkeys(["S501", "S602", "S604", "S605"], "high"),
}
_RANK_SEVERITY = {"D": "medium", "E": "high", "F": "critical"}  # A to C: low


def is_ruff_security_rule(rule: str) -> bool:
    """``S602`` is; ``SIM102`` is not."""
    return rule[:1] == "S" and rule[1:].isdigit()


def ruff_severity(rule: str) -> str:
    if is_ruff_security_rule(rule):
        return _RUFF_SECURITY_SEVERITY.get(rule, "medium")
    if rule.startswith("F"):
        return _PYFLAKES_SEVERITY.get(rule, "high")
    if rule.startswith("B"):
        return "medium"
    if rule == "invalid-syntax" or rule.startswith("E9"):
        return "high"
    return "low"  # E, W, UP, SIM: style and modernisation


def complexity_severity(rank: str) -> str:
    return _RANK_SEVERITY.get(rank, "low")


def bandit_suggestion(rule: str, message: str, more_info: str | None) -> str:
    if rule in SUGGESTIONS:
        return SUGGESTIONS[rule]
    return _fallback(message, more_info)


def ruff_suggestion(rule: str, message: str, fix: dict[str, Any] | None, url: str | None) -> str:
    twin = "B" + rule[1:] if is_ruff_security_rule(rule) else rule
    known = SUGGESTIONS.get(rule) or SUGGESTIONS.get(twin)
    if known:
        return known
    if fix and fix.get("message"):
        how = "--fix" if fix.get("applicability") == "safe" else "--fix --unsafe-fixes"
        return f"{fix['message']} (`ruff check {how}` can apply it)."
    return _fallback(message, url)


def _fallback(message: str, url: str | None) -> str:
    tail = f"; see {url}" if url else ""
    return f"Address this: {message.rstrip('.')}{tail}."


# -- where complexity comes from ------------------------------------------------------

_BRANCH_KINDS: dict[type[ast.AST], str] = {
    ast.If: "if/elif",
    ast.IfExp: "conditional expression",
    ast.For: "loop",
    ast.AsyncFor: "loop",
    ast.While: "loop",
    ast.ExceptHandler: "except handler",
    ast.BoolOp: "and/or operator",
    ast.comprehension: "comprehension",
    ast.match_case: "match case",
}
_NESTED_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)


def branch_summary(tree: ast.Module, name: str, line: int) -> str:
    """Where a function's branches are: ``"12 if/elif (lines 3, 5, ...), 2 loops (...)"``."""
    func = next((n for n in ast.walk(tree) if _is_function(n, name, line)), None)
    if func is None:
        return "not located"
    found: dict[str, list[int]] = {}
    for node in _own_nodes(func):
        kind = _BRANCH_KINDS.get(type(node))
        if kind:
            found.setdefault(kind, []).append(_line_of(node, line))
    parts = []
    for kind, lines in sorted(found.items(), key=lambda item: -len(item[1])):
        lines.sort()
        shown = ", ".join(map(str, lines[:6])) + (", ..." if len(lines) > 6 else "")
        many = len(lines) > 1
        plural = kind if not many or kind.endswith("elif") else kind + "s"
        parts.append(f"{len(lines)} {plural} (line{'s' if many else ''} {shown})")
    return ", ".join(parts) or "none found"


def _line_of(node: ast.AST, default: int) -> int:
    if isinstance(node, ast.comprehension | ast.match_case):
        node = node.target if isinstance(node, ast.comprehension) else node.pattern
    return int(getattr(node, "lineno", default))


def _is_function(node: ast.AST, name: str, line: int) -> bool:
    if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return False
    return node.name == name and node.lineno == line


def _own_nodes(func: ast.AST) -> Iterator[ast.AST]:
    """The nodes of a function body, not descending into nested functions or classes."""
    stack = list(ast.iter_child_nodes(func))
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, _NESTED_SCOPES):
            stack.extend(ast.iter_child_nodes(node))


# -- running the tools ---------------------------------------------------------------


def _run_json_tool(tool: str, args: list[str], timeout: float) -> tuple[Any, ToolRun]:
    """Run ``python -m <tool> <args>``: the JSON it printed, or a ToolRun saying why not.

    The exit code is not the test (bandit exits 1 when it finds issues); JSON on stdout is.
    """
    run = ToolRun()
    if not is_installed(tool):
        run.failure = f"{missing_message((tool,), 'the scan')} (for {sys.executable})"
        return None, run
    command = [sys.executable, "-m", tool, *args]
    try:
        done = subprocess.run(  # nosec B603 - a fixed argument list, no shell
            command, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        run.failure, run.timed_out = f"{tool} did not finish within {timeout:g} s", True
        return None, run
    try:
        return json.loads(done.stdout), run
    except json.JSONDecodeError:
        stderr = done.stderr.strip()[-500:] or "no output"
        run.failure = f"{tool} exited with code {done.returncode} and no JSON: {stderr}"
        return None, run


def run_bandit(files: FileSet, timeout: float) -> ToolRun:
    args = ["-f", "json", "-q", "-r", *map(str, files.files)]
    data, run = _run_json_tool("bandit", args, timeout)
    if data is None:
        return run
    run.findings.extend(_bandit_finding(item, files) for item in data.get("results", []))
    for error in data.get("errors", []):
        where = files.relative(error.get("filename", "?"))
        run.errors.append({"tool": "bandit", "file": where, "message": error.get("reason")})
    return run


def _bandit_finding(item: dict[str, Any], files: FileSet) -> Finding:
    rule = str(item.get("test_id", "B000"))
    severity = str(item.get("issue_severity", "")).lower()
    confidence = str(item.get("issue_confidence", "")).lower()
    severity = severity if severity in SEVERITIES else "low"
    if severity == "high" and confidence == "high":
        severity = "critical"
    line = item.get("line_number")
    span = [n for n in item.get("line_range") or [] if isinstance(n, int)]
    column = item.get("col_offset")
    message = str(item.get("issue_text", ""))
    return Finding(
        tool="bandit",
        rule=rule,
        severity=severity,
        confidence=confidence if confidence in ("low", "medium", "high") else None,
        message=message,
        file=files.relative(item.get("filename", "?")),
        line=line,
        column=None if column is None else column + 1,  # bandit counts from 0
        end_line=max(span) if span else line,
        suggestion=bandit_suggestion(rule, message, item.get("more_info")),
    )


def run_ruff(files: FileSet, timeout: float) -> ToolRun:
    args = ["check", "--output-format", "json", "--no-cache", "--isolated", "--exit-zero"]
    args += ["--select", RUFF_SELECT, "--ignore", RUFF_IGNORE, *map(str, files.files)]
    data, run = _run_json_tool("ruff", args, timeout)
    if data is not None:
        run.findings.extend(_ruff_finding(item, files) for item in data)
    return run


def _ruff_finding(item: dict[str, Any], files: FileSet) -> Finding:
    rule = str(item.get("code") or "invalid-syntax")  # older ruff: syntax errors have no code
    start = item.get("location") or {}
    end = item.get("end_location") or {}
    message = str(item.get("message", ""))
    return Finding(
        tool="ruff",
        rule=rule,
        severity=ruff_severity(rule),
        message=message,
        file=files.relative(item.get("filename", "?")),
        line=start.get("row"),
        column=start.get("column"),
        end_line=end.get("row"),
        suggestion=ruff_suggestion(rule, message, item.get("fix"), item.get("url")),
    )


def run_radon(files: FileSet, sources: dict[Path, str], threshold: int) -> ToolRun:
    """Functions whose cyclomatic complexity is above ``threshold``."""
    run = ToolRun()
    try:
        from radon.complexity import cc_rank, cc_visit
    except ImportError as exc:
        run.failure = f"{missing_message(('radon',), 'the complexity scan')} ({exc})"
        return run
    for path, source in sources.items():
        relative = files.relative(path)
        try:
            blocks, tree = cc_visit(source), ast.parse(source)
        except (SyntaxError, ValueError) as exc:
            message = f"not analysed: the file does not parse ({exc})"
            run.errors.append({"tool": "radon", "file": relative, "message": message})
            continue
        for block in _functions(blocks):
            if block.complexity > threshold:
                finding = _radon_finding(block, cc_rank(block.complexity), tree, relative)
                run.findings.append(finding)
    return run


def _functions(blocks: Sequence[Any]) -> Iterator[Any]:
    """Functions, methods and closures (radon lists methods beside their classes)."""
    for block in blocks:
        if hasattr(block, "closures"):
            yield block
            yield from _functions(block.closures)


def _radon_finding(block: Any, rank: str, tree: ast.Module, file: str) -> Finding:
    name = block.fullname
    branches = branch_summary(tree, block.name, block.lineno)
    return Finding(
        tool="radon",
        rule="CC",
        severity=complexity_severity(rank),
        message=f"`{name}` has cyclomatic complexity {block.complexity} (rank {rank})",
        file=file,
        line=block.lineno,
        column=block.col_offset + 1,
        end_line=block.endline,
        suggestion=f"Split `{name}` into smaller functions; the branches are {branches}.",
    )
