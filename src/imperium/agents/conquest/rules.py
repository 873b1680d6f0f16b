"""The rules that classify a build or test log (see :mod:`.classify`): the failure
categories, and a table of regular expressions, each with the weight of the evidence it
gives for one category. Pure and stdlib-only."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Category(StrEnum):
    DEPENDENCY_CONFLICT = "dependency_conflict"
    MISSING_DEPENDENCY = "missing_dependency"
    SYNTAX_ERROR = "syntax_error"
    COMPILE_ERROR = "compile_error"
    LINK_ERROR = "link_error"
    IMPORT_ERROR = "import_error"
    FAILING_TEST = "failing_test"
    TEST_ERROR = "test_error"
    TIMEOUT = "timeout"
    OUT_OF_MEMORY = "out_of_memory"
    NETWORK = "network"
    PERMISSION = "permission"
    DISK_FULL = "disk_full"
    UNKNOWN = "unknown"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    category: Category
    weight: float
    keywords: tuple[str, ...]
    pattern: re.Pattern[str]


def _exit(code: int) -> str:
    return (
        rf"\bexit (?:code|status)[: ]+{code}\b|\bexited with (?:code )?{code}\b"
        rf"|non-zero exit status {code}\b"
    )


_C = Category
# (name, category, weight, keywords, pattern). A line is tried against a pattern only when it
# contains one of its ``|``-separated keywords (lower case): searching every line with a
# hundred regexes is far slower than a substring test. Named groups feed the
# recommendations: ``subject`` is the thing to name (package, module, test id, file:line).
# fmt: off
_RULE_TABLE: tuple[tuple[str, Category, float, str, str], ...] = (
    ("pip_cannot_install", _C.DEPENDENCY_CONFLICT, 6, "conflicting",
        r"Cannot install (?P<subject>.+?) because these package versions have conflicting"),
    ("pip_resolution_impossible", _C.DEPENDENCY_CONFLICT, 5, "resolutionimpossible",
        r"\bResolutionImpossible\b"),
    ("pip_conflict_cause", _C.DEPENDENCY_CONFLICT, 4, "conflict is caused",
        r"The conflict is caused by:"),
    ("conflicting_dependencies", _C.DEPENDENCY_CONFLICT, 4, "conflicting dependencies",
        r"(?i:conflicting dependencies)"),
    ("pip_incompatible", _C.DEPENDENCY_CONFLICT, 5, "which is incompatible",
        r"(?P<subject>\S+ \S+ requires \S+), but you have \S+ \S+ which is incompatible"),
    ("npm_eresolve", _C.DEPENDENCY_CONFLICT, 5, "eresolve",
        r"\bERESOLVE\b"),
    ("npm_peer", _C.DEPENDENCY_CONFLICT, 3, "peer ",
        r"\bpeer (?P<subject>\S+@\"[^\"]+\" from \S+)"),
    ("npm_found", _C.DEPENDENCY_CONFLICT, 1, "found: ",
        r"^npm (?:ERR!|error) Found: (?P<subject>\S+)"),
    ("solver_failed", _C.DEPENDENCY_CONFLICT, 5, "solv|failed to select",
        r"version solving failed|SolverProblemError|failed to select a version for"),
    ("pip_no_matching_distribution", _C.MISSING_DEPENDENCY, 5, "no matching distribution",
        r"No matching distribution found for (?P<subject>\S+)"),
    ("pip_no_version", _C.MISSING_DEPENDENCY, 4, "could not find a version",
        r"Could not find a version that satisfies the requirement (?P<subject>\S+)"),
    ("python_no_module", _C.MISSING_DEPENDENCY, 5, "no module named",
        r"ModuleNotFoundError: No module named '(?P<subject>[\w-]+)'"),
    ("node_cannot_find_package", _C.MISSING_DEPENDENCY, 5, "cannot find module",
        r"Cannot find module '(?P<subject>[^./'][^']*)'"),
    ("node_module_not_found", _C.MISSING_DEPENDENCY, 3, "module_not_found",
        r"\bMODULE_NOT_FOUND\b"),
    ("npm_404", _C.MISSING_DEPENDENCY, 5, "404",
        r"\bE404\b|404 Not Found - GET \S+/(?P<subject>[^/\s]+)"),
    ("maven_unresolved", _C.MISSING_DEPENDENCY, 5, "resolve dependencies|find artifact",
        r"Could not resolve dependencies for project|Could not find artifact (?P<subject>\S+)"),
    ("c_header_missing", _C.MISSING_DEPENDENCY, 6, "no such file",
        r"fatal error: (?P<subject>[\w./+-]+\.h(?:pp)?): No such file or directory"),
    ("command_not_found", _C.MISSING_DEPENDENCY, 4, "command not found",
        r"(?P<subject>[\w.+-]+): command not found"),
    ("exit_127", _C.MISSING_DEPENDENCY, 2, "127",
        _exit(127)),
    ("cargo_no_package", _C.MISSING_DEPENDENCY, 5, "no matching package",
        r"no matching package named `(?P<subject>[^`]+)`"),
    ("go_no_module", _C.MISSING_DEPENDENCY, 5, "no required module",
        r"no required module provides package (?P<subject>\S+)"),
    ("python_cannot_import_name", _C.IMPORT_ERROR, 5, "cannot import name",
        r"ImportError: cannot import name '(?P<subject>[^']+)' from '(?P<module>[^']+)'"),
    ("python_circular_import", _C.IMPORT_ERROR, 6, "partially initialized",
        r"partially initialized module '(?P<subject>[^']+)'"),
    ("python_relative_import", _C.IMPORT_ERROR, 5, "relative import",
        r"ImportError: attempted relative import"),
    ("python_no_submodule", _C.IMPORT_ERROR, 4, "no module named",
        r"ModuleNotFoundError: No module named '(?P<subject>\w+(?:\.\w+)+)'"),
    ("python_import_error", _C.IMPORT_ERROR, 3, "importerror",
        r"^ImportError: "),
    ("node_cannot_find_file", _C.IMPORT_ERROR, 5, "cannot find module",
        r"Cannot find module '(?P<subject>\.{1,2}/[^']*)'"),
    ("java_class_not_found", _C.IMPORT_ERROR, 4, "noclassdeffound|classnotfound",
        r"NoClassDefFoundError|ClassNotFoundException: (?P<subject>\S+)"),
    ("syntax_error", _C.SYNTAX_ERROR, 6, "syntaxerror|indentationerror|taberror",
        r"^(?:\w+\.)*(?P<kind>SyntaxError|IndentationError|TabError): (?P<subject>.*)"),
    ("php_parse_error", _C.SYNTAX_ERROR, 5, "parse error",
        r"Parse error:\s+syntax error"),
    ("c_compiler_error", _C.COMPILE_ERROR, 5, "error:",
        r"^(?P<subject>[^\s:]+:\d+:\d+): (?:fatal )?error: (?P<message>.*)"),
    ("javac_error", _C.COMPILE_ERROR, 5, "error:",
        r"^(?P<subject>\S+\.java:\d+): error: (?P<message>.*)"),
    ("rustc_error", _C.COMPILE_ERROR, 5, "error[",
        r"^error\[(?P<code>E\d{4})\]: (?P<message>.*)"),
    ("rustc_aborting", _C.COMPILE_ERROR, 3, "error:",
        r"^error: (?:aborting due to|could not compile)"),
    ("tsc_error", _C.COMPILE_ERROR, 5, "error ts",
        r"(?P<subject>\S+\(\d+,\d+\)): error (?P<code>TS\d+): (?P<message>.*)"),
    ("maven_compilation_error", _C.COMPILE_ERROR, 4, "compilation error",
        r"COMPILATION ERROR"),
    ("error_count", _C.COMPILE_ERROR, 2, "error",
        r"^\d+ errors?$"),
    ("undefined_reference", _C.LINK_ERROR, 6, "undefined reference",
        r"undefined reference to [`'\u2018\"](?P<subject>[^'\u2019`\"]+)"),
    ("ld_exit_status", _C.LINK_ERROR, 4, "ld returned",
        r"\bld returned \d+ exit status"),
    ("undefined_symbols", _C.LINK_ERROR, 5, "undefined symbol|symbol(s) not found",
        r"Undefined symbols? for architecture|ld: symbol\(s\) not found"),
    ("ld_cannot_find_lib", _C.LINK_ERROR, 6, "cannot find -l",
        r"\bld: cannot find -l(?P<subject>\S+)"),
    ("multiple_definition", _C.LINK_ERROR, 5, "multiple definition",
        r"multiple definition of [`'\u2018\"](?P<subject>[^'\u2019`\"]+)"),
    ("unresolved_external", _C.LINK_ERROR, 5, "unresolved external",
        r"unresolved external symbol (?P<subject>\S+)"),
    ("pytest_failed_id", _C.FAILING_TEST, 6, "failed",
        r"^FAILED (?P<subject>\S+::\S+)(?: - (?P<message>.*))?"),
    ("pytest_verbose_failed", _C.FAILING_TEST, 5, "failed",
        r"^(?P<subject>\S+::\S+) FAILED\b"),
    ("pytest_failed_count", _C.FAILING_TEST, 5, "failed",
        r"^=+ .*\b(?P<subject>\d+) failed\b"),
    ("pytest_assert", _C.FAILING_TEST, 4, "assert",
        r"^E\s+(?:assert|AssertionError)\b"),
    ("assertion_error", _C.FAILING_TEST, 3, "assertionerror",
        r"\bAssertionError\b"),
    ("junit_assertion", _C.FAILING_TEST, 4, "assertionfailederror|comparisonfailure",
        r"AssertionFailedError|ComparisonFailure"),
    ("surefire_failures", _C.FAILING_TEST, 5, "failures:",
        r"Tests run: \d+, Failures: [1-9]"),
    ("surefire_test_id", _C.FAILING_TEST, 6, "time elapsed",
        r"(?P<subject>[\w.$]+\.\w+) -- Time elapsed: .*<<< (?:FAILURE|ERROR)!"),
    ("maven_test_failures", _C.FAILING_TEST, 4, "there are test failures",
        r"There are test failures"),
    ("cargo_test_failed", _C.FAILING_TEST, 5, "failed",
        r"^test (?P<subject>\S+) \.\.\. FAILED|^test result: FAILED"),
    ("go_test_failed", _C.FAILING_TEST, 5, "--- fail",
        r"^--- FAIL: (?P<subject>\S+)"),
    ("jest_failed", _C.FAILING_TEST, 5, "failed",
        r"^Tests:\s+\d+ failed"),
    ("unittest_failed", _C.FAILING_TEST, 5, "fail",
        r"^FAIL: (?P<subject>\w+) \(|^FAILED \((?:failures|errors)=\d+"),
    ("pytest_collection_error", _C.TEST_ERROR, 7, "error collecting",
        r"ERROR collecting (?P<subject>\S+)"),
    ("pytest_collection_interrupted", _C.TEST_ERROR, 6, "during collection",
        r"Interrupted: \d+ errors? during collection"),
    ("pytest_import_test_module", _C.TEST_ERROR, 6, "while importing test module",
        r"ImportError while importing test module '(?P<subject>[^']+)'"),
    ("pytest_error_id", _C.TEST_ERROR, 5, "error ",
        r"^ERROR (?P<subject>\S+\.py(?:::\S+)?)"),
    ("pytest_setup_error", _C.TEST_ERROR, 6, "error at ",
        r"ERROR at (?:setup|teardown) of (?P<subject>\S+)"),
    ("pytest_fixture_missing", _C.TEST_ERROR, 6, "fixture",
        r"fixture '(?P<subject>\w+)' not found"),
    ("pytest_error_count", _C.TEST_ERROR, 4, "error",
        r"^=+ .*\b\d+ errors?\b.*=+$"),
    ("surefire_errors", _C.TEST_ERROR, 4, "errors:",
        r"Tests run: \d+, Failures: 0, Errors: [1-9]"),
    ("timed_out", _C.TIMEOUT, 5, "timed out",
        r"(?i:\btimed out\b)"),
    ("timeout_exception", _C.TIMEOUT, 5, "timeout",
        r"\b(?:TimeoutExpired|TimeoutError|TimeoutException)(?::|$)"),
    ("pytest_timeout", _C.TIMEOUT, 8, "timeout",
        r"Timeout >[\d.]+s|\+{5,} Timeout \+{5,}"),
    ("deadline_exceeded", _C.TIMEOUT, 5, "deadline",
        r"(?i:deadline exceeded)|DEADLINE_EXCEEDED"),
    ("exit_124", _C.TIMEOUT, 5, "124",
        _exit(124)),
    ("ci_time_limit", _C.TIMEOUT, 6, "execution time|timeout|execution expired",
        r"exceeded the maximum execution time|(?i:job'?s? timeout)|execution expired"),
    ("timeout_command", _C.TIMEOUT, 1, "timeout ",
        r"^[$+] timeout (?:-\S+ )*(?P<subject>\d+\w*) "),
    ("memory_error", _C.OUT_OF_MEMORY, 6, "memoryerror",
        r"^(?:E\s+)?(?:[\w.]+\.)?\w*MemoryError\b"),
    ("oom_killed", _C.OUT_OF_MEMORY, 7, "oom|out of memory",
        r"\bOOMKilled\b|(?i:oom-kill)|Out of memory: Killed process"),
    ("out_of_memory", _C.OUT_OF_MEMORY, 5, "out of memory|outofmemory|bad_alloc",
        r"(?i:\bout of memory\b)|OutOfMemoryError|std::bad_alloc"),
    ("cannot_allocate", _C.OUT_OF_MEMORY, 6, "cannot allocate|enomem",
        r"Cannot allocate memory|\bENOMEM\b"),
    ("killed", _C.OUT_OF_MEMORY, 4, "killed",
        r"\bKilled\b"),
    ("exit_137", _C.OUT_OF_MEMORY, 5, "137",
        _exit(137)),
    ("sigkill", _C.OUT_OF_MEMORY, 3, "sigkill|signal 9",
        r"\bSIGKILL\b|\bsignal 9\b"),
    ("connection_refused", _C.NETWORK, 5, "refused",
        r"Connection refused|\bECONNREFUSED\b"),
    ("dns_failure", _C.NETWORK, 6,
        "name or service|name resolution|nodename|enotfound|eai_again|resolve host|gaierror",
        r"Name or service not known|Temporary failure in name resolution|nodename nor servname"
        r"|\bENOTFOUND\b|\bEAI_AGAIN\b|Could not resolve host|socket\.gaierror"),
    ("unreachable", _C.NETWORK, 6, "unreach|no route to host",
        r"Network is unreachable|\bENETUNREACH\b|No route to host|\bEHOSTUNREACH\b"),
    ("connection_timed_out", _C.NETWORK, 6, "etimedout|timed out|handshake timeout",
        r"\bETIMEDOUT\b|(?i:connection timed out|connect timed out|TLS handshake timeout)"),
    ("connection_reset", _C.NETWORK, 5, "econnreset|connection reset",
        r"\bECONNRESET\b|Connection reset by peer"),
    ("new_connection_failed", _C.NETWORK, 5, "new connection|max retries",
        r"Failed to establish a new connection|Max retries exceeded with url"),
    ("certificate", _C.NETWORK, 5, "certificate verify",
        r"(?i:certificate verify failed)"),
    ("retrying", _C.NETWORK, 2, "retrying",
        r"Retrying \(Retry\("),
    ("permission_error", _C.PERMISSION, 6, "permissionerror",
        r"\bPermissionError\b"),
    ("permission_denied", _C.PERMISSION, 5, "permission denied|eacces|accessdenied",
        r"Permission denied|\bEACCES\b|AccessDenied"),
    ("not_permitted", _C.PERMISSION, 4, "not permitted|eperm",
        r"Operation not permitted|\bEPERM\b"),
    ("exit_126", _C.PERMISSION, 2, "126",
        _exit(126)),
    ("no_space", _C.DISK_FULL, 7, "no space left|enospc|quota exceeded|edquot",
        r"(?i:no space left on device)|\bENOSPC\b|Disk quota exceeded|\bEDQUOT\b"),
    ("errno_28", _C.DISK_FULL, 6, "errno 28",
        r"\[Errno 28\]"),
    ("not_enough_space", _C.DISK_FULL, 5, "space",
        r"(?i:not enough (?:free )?(?:disk )?space|insufficient disk space)"),
    ("pytest_passed", _C.NONE, 5, "passed",
        r"^=+ (?!.*\b(?:failed|errors?)\b).*\b\d+ passed\b.*=+$"),
    ("build_success", _C.NONE, 5, "build success",
        r"\bBUILD SUCCESS(?:FUL)?\b"),
    ("cargo_test_ok", _C.NONE, 3, "test result: ok",
        r"^test result: ok\."),
    ("surefire_clean", _C.NONE, 2, "failures: 0",
        r"Tests run: \d+, Failures: 0, Errors: 0"),
    ("go_test_ok", _C.NONE, 3, "ok",
        r"^ok\s+\S+\s+[\d.]+s$"),
    ("checks_passed", _C.NONE, 4, "all checks passed|no issues found",
        r"All checks passed!|Success: no issues found"),
    ("unittest_ok", _C.NONE, 4, "ok",
        r"^OK(?: \(.*\))?$"),
    ("jest_passed", _C.NONE, 4, "passed",
        r"^Tests:\s+(?!.*failed)\d+ passed"),
)
# fmt: on


RULES: tuple[Rule, ...] = tuple(
    Rule(name, category, weight, tuple(keywords.split("|")), re.compile(pattern))
    for name, category, weight, keywords, pattern in _RULE_TABLE
)
