"""What to do about a classified log: recommendations specific to what the evidence names
(the package, the test, the file and line), per category, and the one-line summary."""

from __future__ import annotations

import re
from dataclasses import dataclass

from imperium.agents.conquest.evidence import Hit, LogLines
from imperium.agents.conquest.rules import RULES, Category

_RUNNER_LINE = re.compile(r"^(?:Error: Process completed with exit code|##\[error\]|\$ |\+ )")
_PY_FRAME = re.compile(r'^File "(?P<path>[^"]+)", line (?P<line>\d+)')
_LIBRARY_PATH = re.compile(r"/lib/python\d|site-packages|<frozen ")


@dataclass(frozen=True, slots=True)
class Findings:
    category: Category
    hits: list[Hit]
    lines: LogLines
    exit_code: int | None

    def matching(self, *rules: str) -> list[Hit]:
        return [h for h in self.hits if h.rule.name in rules]

    def values(self, *rules: str, group: str = "subject") -> list[str]:
        """The distinct ``group`` values captured by ``rules``, in log order."""
        found = (h.groups.get(group) for h in self.matching(*rules))
        return list(dict.fromkeys(v for v in found if v))

    def source_location(self, before: int, *, own_code: bool = True) -> str | None:
        """``path:line`` of the nearest Python traceback frame above ``before``; with
        ``own_code``, frames in the standard library or site-packages are skipped."""
        for line_no in self.lines.before(before):
            match = _PY_FRAME.match(self.lines.at(line_no).strip())
            if match and not (own_code and _LIBRARY_PATH.search(match["path"])):
                return f"{match['path']}:{match['line']}"
        return None

    def last_output(self, before: int) -> str | None:
        """The last line the job printed before ``before`` (not a runner's own line)."""
        for line_no in self.lines.before(before):
            text = self.lines.at(line_no).strip()
            if text and not _RUNNER_LINE.match(text):
                return text
        return None

    def block_after(self, line_no: int, limit: int = 6) -> list[str]:
        """The indented lines right after ``line_no`` (pip's list of conflict causes)."""
        block = []
        for number in range(line_no + 1, line_no + 1 + limit):
            text = self.lines.at(number)
            if not text.startswith((" ", "\t")) or not text.strip():
                break
            block.append(text.strip())
        return block


def _quote(text: str, limit: int = 160) -> str:
    return f"'{text if len(text) <= limit else text[: limit - 1] + '…'}'"


def _listing(items: list[str], limit: int = 5) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _advise_conflict(f: Findings) -> list[str]:
    out = []
    causes = [c for h in f.matching("pip_conflict_cause") for c in f.block_after(h.line_no)]
    for subject in f.values("pip_cannot_install"):
        because = f" ({'; '.join(causes)})" if causes else ""
        out.append(
            f"pip cannot install {subject} together{because}: change one of these "
            "requirements so the versions they allow overlap, then reinstall."
        )
    for subject in f.values("pip_incompatible"):
        out.append(f"Installed versions disagree: {subject}. Upgrade or pin so it holds.")
    peers, found = f.values("npm_peer"), f.values("npm_found")
    if peers:
        have = f"{found[0]} is what the tree has" if found else "the tree has another version"
        out.append(
            f"npm peer dependency conflict: {peers[0]}, but {have}. Align the two versions; "
            "--legacy-peer-deps installs a combination the package says it does not support."
        )
    if not out:
        out.append(
            "Find the requirements that disagree in the resolver's message and relax one; "
            "regenerating the lock file from scratch shows the conflict in isolation."
        )
    return out


def _advise_missing(f: Findings) -> list[str]:
    out = []
    for name in f.values("pip_no_matching_distribution", "pip_no_version"):
        out.append(
            f"No distribution for {_quote(name)} on the configured package indexes: check the "
            "spelling, that the version exists and supports this Python and platform (pip "
            "lists the versions it saw), and the index URL."
        )
    for name in f.values("python_no_module"):
        out.append(
            f"Python module {_quote(name)} is not installed where this ran: add the "
            "distribution that provides it to the dependencies (its name on PyPI may differ) "
            "and reinstall, or activate the right environment."
        )
    for name in f.values("node_cannot_find_package"):
        out.append(
            f"Node cannot find package {_quote(name)}: `npm install {name}` (saved in "
            "package.json), or run `npm ci` before this step; check the spelling."
        )
    for name in f.values("c_header_missing"):
        out.append(f"Header {_quote(name)} is missing: install the library's -dev package.")
    for name in f.values("command_not_found"):
        out.append(f"{_quote(name)} is not installed or not on PATH in this job's image.")
    for name in f.values("npm_404", "maven_unresolved", "cargo_no_package", "go_no_module"):
        out.append(f"{_quote(name)} is not available from the registry: check name/version.")
    return out or ["Install the missing dependency named in the evidence, or fix its name."]


def _advise_import(f: Findings) -> list[str]:
    out = []
    for hit in f.matching("python_cannot_import_name"):
        where = f.source_location(hit.line_no)
        module, name = hit.groups.get("module", "?"), hit.groups.get("subject", "?")
        out.append(
            f"{_quote(module)} has no {_quote(name)} in the installed version"
            + (f" (imported at {where})" if where else "")
            + ": import it from where it lives now (APIs move between versions) or pin the "
            "version the code was written for."
        )
    for name in f.values("python_circular_import"):
        out.append(f"Circular import through {_quote(name)}: move the shared code out.")
    for name in f.values("python_no_submodule", "node_cannot_find_file", "java_class_not_found"):
        out.append(f"{_quote(name)} cannot be found at that path: check the module/file name.")
    return out or ["Fix the failing import shown in the evidence (name, path, version)."]


def _advise_syntax(f: Findings) -> list[str]:
    out = []
    for hit in f.matching("syntax_error")[:3]:
        where = f.source_location(hit.line_no, own_code=False) or "the reported location"
        kind, message = hit.groups.get("kind", "syntax error"), hit.groups.get("subject", "")
        out.append(f"Fix the {kind} at {where}: {message}")
    out.append("Compile or lint before pushing (`python -m py_compile`, ruff) to catch these.")
    return out


def _advise_compile(f: Findings) -> list[str]:
    errors = []
    for hit in f.matching("c_compiler_error", "javac_error", "tsc_error"):
        errors.append(f"{hit.groups.get('subject')}: {hit.groups.get('message', '')}")
    for hit in f.matching("rustc_error"):
        arrow = f.lines.at(hit.line_no + 1).strip()
        where = f" at {arrow[3:].strip()}" if arrow.startswith("-->") else ""
        errors.append(f"{hit.groups.get('code')} {hit.groups.get('message', '')}{where}")
    if not errors:
        return ["Fix the first compiler error in the log; later ones often follow from it."]
    out = [f"Fix the first compiler error first, later ones often follow from it: {errors[0]}"]
    if len(errors) > 1:
        out.append(f"Then: {_listing(errors[1:], 3)}")
    out += [f"`rustc --explain {c}` explains {c}." for c in f.values("rustc_error", group="code")]
    return out


def _advise_link(f: Findings) -> list[str]:
    out = []
    symbols = f.values("undefined_reference", "unresolved_external")
    if symbols:
        out.append(
            f"The linker found no definition of {_listing(symbols)}: add the source file or "
            "library that defines it to the link (libraries after the objects that use "
            "them), or fix a misspelt name or mismatched signature."
        )
    for lib in f.values("ld_cannot_find_lib"):
        out.append(f"Library 'lib{lib}' is not installed or not on the library path (-L).")
    for name in f.values("multiple_definition"):
        out.append(f"{_quote(name)} is defined twice: define it in one .c file only.")
    return out or ["Fix the link step: a symbol or library the linker needs is missing."]


def _rerun_command(hit: Hit) -> str:
    test = hit.groups["subject"]
    if hit.rule.name == "surefire_test_id":
        cls, _, method = test.rpartition(".")
        return f"mvn test -Dtest={cls.rsplit('.', 1)[-1]}#{method}"
    if hit.rule.name == "cargo_test_failed":
        return f"cargo test {test}"
    if hit.rule.name == "go_test_failed":
        return f"go test -run '^{test}$'"
    return f"pytest '{test}'"


def _advise_failing_test(f: Findings) -> list[str]:
    rules = ("pytest_failed_id", "pytest_verbose_failed", "surefire_test_id", "cargo_test_failed")
    by_test = {h.groups["subject"]: h for h in f.matching(*rules, "go_test_failed") if h.groups}
    reasons = f.values("pytest_failed_id", group="message") or [
        h.text for h in f.matching("junit_assertion", "pytest_assert")
    ]
    if not by_test:
        return ["Run the failing tests alone and decide whether the code or the test is wrong."]
    first = next(iter(by_test.values()))
    because = f" ({reasons[0]})" if reasons else ""
    return [
        f"Failing tests: {_listing(list(by_test))}{because}.",
        f"Reproduce the first alone with `{_rerun_command(first)}`, then decide whether the "
        "code or the test's expectation is wrong; do not retry it away.",
    ]


_EXCEPTION_LINE = re.compile(r"^(?:E\s+)?(?P<exc>[\w.]*(?:Error|Exception)): (?P<msg>.+)")


def _advise_test_error(f: Findings) -> list[str]:
    out = []
    modules = f.values("pytest_collection_error", "pytest_error_id", "pytest_import_test_module")
    for hit in f.matching("pytest_collection_error")[:3]:
        cause = next(
            (
                text
                for n in range(hit.line_no + 1, hit.line_no + 40)
                if (text := f.lines.at(n).strip()) and _EXCEPTION_LINE.match(text)
            ),
            None,
        )
        cause_text = f" ({cause.removeprefix('E').strip()})" if cause else ""
        out.append(
            f"{hit.groups['subject']} could not be collected{cause_text}, so none of its tests "
            "ran: fix the import or module-level code."
        )
    for name in f.values("python_no_module"):
        out.append(f"Module {_quote(name)} is not installed: add it to the test dependencies.")
    for name in f.values("pytest_fixture_missing"):
        out.append(f"Fixture {_quote(name)} does not exist: define it in conftest.py.")
    if not out and modules:
        out.append(f"Tests errored before running ({_listing(modules)}): see their tracebacks.")
    return out or ["Tests could not run (collection or setup error): see the traceback."]


def _advise_timeout(f: Findings) -> list[str]:
    out = []
    limits = f.values("timeout_command")
    for hit in f.matching("exit_124")[:1]:
        limit = f" after {limits[0]}{'' if limits[0][-1].isalpha() else ' s'}" if limits else ""
        last = f.last_output(hit.line_no)
        out.append(
            f"The command was stopped by `timeout` (exit code 124){limit}"
            + (
                f"; its last output was {_quote(last)}, so that step is where time went"
                if last
                else ""
            )
            + "."
        )
    timed_out = f.matching("pytest_timeout", "timeout_exception", "timed_out", "ci_time_limit")
    for hit in sorted(timed_out, key=lambda h: -h.rule.weight)[:1]:
        out.append(f"A time limit was hit: {_quote(hit.text)}.")
    out.append(
        "Find out why it is slow or stuck (a lock, a network call without its own timeout, a "
        "larger input) before raising the limit."
    )
    return out


def _advise_memory(f: Findings) -> list[str]:
    out = []
    for hit in f.matching("memory_error")[:1]:
        where = f.source_location(hit.line_no)
        code = f.lines.at(hit.line_no - 2).strip() if where else ""
        at = f" at {where}" + (f" ({_quote(code)})" if code else "") if where else ""
        out.append(
            f"Python ran out of memory{at}: lower the peak there (process the data in chunks "
            "or stream it, drop large objects early) or give the job more memory (check "
            "`ulimit -v` and the container limit)."
        )
    for hit in f.matching("killed", "exit_137", "oom_killed", "sigkill")[:1]:
        last = f.last_output(hit.line_no)
        out.append(
            f"The process was killed with SIGKILL ({_quote(hit.text)}), which is what the "
            "kernel OOM killer or a container memory limit does: check `dmesg` or the "
            "container's OOMKilled status and measure the peak memory (`/usr/bin/time -v`)"
            + (f"; its last output was {_quote(last)}" if last else "")
            + "."
        )
    return out or ["The job ran out of memory: reduce its peak memory or raise the limit."]


_HOST = re.compile(
    r"host='(?P<host>[^']+)', port=(?P<port>\d+)|Could not resolve host:? (?P<h2>\S+)"
    r"|(?:ENOTFOUND|EAI_AGAIN|ECONNREFUSED) (?P<h3>\S+)"
)


def _advise_network(f: Findings) -> list[str]:
    hosts = []
    for hit in f.matching(*(r.name for r in RULES if r.category is Category.NETWORK)):
        for m in _HOST.finditer(hit.text):
            hosts.append(f"{m['host']}:{m['port']}" if m["host"] else (m["h2"] or m["h3"]))
    target = f" ({_listing(list(dict.fromkeys(hosts)), 3)})" if hosts else ""
    out = []
    if f.matching("dns_failure"):
        out.append(
            f"A host name could not be resolved{target}: check the name in the configuration "
            "and that this runner has DNS and outbound access; retry if DNS was briefly down."
        )
    if f.matching("connection_refused", "new_connection_failed", "connection_reset"):
        out.append(
            f"Nothing accepted the connection{target}: the service is down or not ready yet "
            "(wait for it before this step), or the address or port is wrong."
        )
    if f.matching("unreachable", "connection_timed_out"):
        out.append(f"The network path is blocked{target}: firewall, proxy or offline runner.")
    if f.matching("certificate"):
        out.append("TLS verification failed: install the CA bundle the proxy uses.")
    if f.matching("pip_no_matching_distribution", "pip_no_version"):
        out.append(
            "pip's 'No matching distribution' here is a consequence: the package index could "
            "not be reached, so every package looked missing."
        )
    return out or ["A network operation failed: check connectivity from the runner and retry."]


_DENIED_PATH = re.compile(
    r"^(?:\S+: )?(?:line \d+: )?(?P<script>\S+): Permission denied"
    r"|Permission denied: '(?P<path>[^']+)'"
)


def _advise_permission(f: Findings) -> list[str]:
    out = []
    for hit in f.matching("permission_denied", "permission_error"):
        match = _DENIED_PATH.search(hit.text)
        if match and match["script"]:
            script = match["script"]
            out.append(
                f"{_quote(script)} is not executable: `chmod +x {script}` and commit the mode "
                f"(`git update-index --chmod=+x {script}`), or run it as `sh {script}`."
            )
        elif match and match["path"]:
            out.append(
                f"The job's user may not write or read {_quote(match['path'])}: use a "
                "directory the job owns (a temp or cache dir) or fix that path's owner/mode; "
                "running as root only hides it."
            )
    out = list(dict.fromkeys(out))
    return out or ["Access was denied: check the user the job runs as and the path's mode."]


_WRITING = re.compile(r"error writing '(?P<path>[^']+)'|No space left on device: '(?P<p2>[^']+)'")


def _advise_disk(f: Findings) -> list[str]:
    paths = [m["path"] or m["p2"] for h in f.hits if (m := _WRITING.search(h.text))]
    mine = [h for h in f.hits if h.rule.category is Category.DISK_FULL]
    where = f.source_location(mine[0].line_no) if mine else None
    target = f" while writing {_quote(paths[0])}" if paths else (f" at {where}" if where else "")
    return [
        f"The device ran out of space{target}: free space on the runner (caches, old "
        "artifacts, unused images: `docker system prune`), send large outputs to a bigger "
        "volume, or shrink them; `df -h` in the job shows which filesystem is full."
    ]


def _advise_unknown(f: Findings) -> list[str]:
    code = f" (exit code {f.exit_code})" if f.exit_code is not None else ""
    last = f.last_output(f.lines.first_line_no + len(f.lines.lines))
    tail = f"; the last output was {_quote(last)}" if last else ""
    return [f"No known failure pattern matched{code}{tail}: read the log's last lines."]


def _advise_none(f: Findings) -> list[str]:
    return ["Nothing to fix: the log reports success."]


ADVICE = {
    Category.DEPENDENCY_CONFLICT: _advise_conflict,
    Category.MISSING_DEPENDENCY: _advise_missing,
    Category.IMPORT_ERROR: _advise_import,
    Category.SYNTAX_ERROR: _advise_syntax,
    Category.COMPILE_ERROR: _advise_compile,
    Category.LINK_ERROR: _advise_link,
    Category.FAILING_TEST: _advise_failing_test,
    Category.TEST_ERROR: _advise_test_error,
    Category.TIMEOUT: _advise_timeout,
    Category.OUT_OF_MEMORY: _advise_memory,
    Category.NETWORK: _advise_network,
    Category.PERMISSION: _advise_permission,
    Category.DISK_FULL: _advise_disk,
    Category.UNKNOWN: _advise_unknown,
    Category.NONE: _advise_none,
}
