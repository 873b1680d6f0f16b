"""Conquest: the log classifier on real failing (and passing) logs (tests/data/logs), the
profile analysis on real cProfile output (tests/data/profiles), duration statistics
against a baseline, and the agent's two task types and the payloads it refuses."""

from __future__ import annotations

import cProfile
import json
import pstats
import re
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imperium.agents.base import TaskContext, TaskFailed
from imperium.agents.conquest import ConquestAgent
from imperium.agents.conquest.classify import Diagnosis, classify
from imperium.agents.conquest.evidence import MAX_LINES
from imperium.agents.conquest.profiles import ProfileError, analyse_profile
from imperium.agents.conquest.rules import RULES, Category
from imperium.agents.conquest.timings import analyse_timings
from imperium.agents.loader import load_agent_class

DATA = Path(__file__).resolve().parents[2] / "data"
LOGS = DATA / "logs"
PROFILES = DATA / "profiles"
LOG_FILES = sorted(LOGS.rglob("*.log"))
ANSI = re.compile(r"\x1b\[[0-9;]*m")

# For each real log: text its strongest evidence line must contain, and text one of the
# recommendations must contain (the specific thing named in the log).
EXPECTED: dict[str, tuple[str, str]] = {
    "compile_error/gcc.log": ("expected \u2018;\u2019 before \u2018}\u2019 token", "stack.c:13:31"),
    "compile_error/javac.log": ("Inventory.java:9: error: ';' expected", "Inventory.java:9"),
    "compile_error/rustc.log": ("error[E0308]: mismatched types", "main.rs:7:25"),
    "link_error/gcc_undefined_reference.log": ("undefined reference to `checksum'", "checksum"),
    "syntax_error/python_unclosed_brace.log": (
        "SyntaxError: '{' was never closed",
        "settings_loader.py:7",
    ),
    "syntax_error/python_indentation.log": ("IndentationError: unindent", "report.py:6"),
    "dependency_conflict/pip_resolution_impossible.log": (
        "Cannot install flask==3.0.0 and werkzeug<3.0",
        "flask 3.0.0 depends on Werkzeug>=3.0.0",
    ),
    "dependency_conflict/npm_eresolve.log": ("ERESOLVE", 'react@"^18.2.0" from react-dom@18.2.0'),
    "missing_dependency/pip_no_such_package.log": (
        "No matching distribution found for imperium-nonexistent-helper-pkg==1.2.0",
        "'imperium-nonexistent-helper-pkg==1.2.0'",
    ),
    "missing_dependency/pip_no_such_version.log": (
        "No matching distribution found for numpy<1.0",
        "'numpy<1.0'",
    ),
    "missing_dependency/python_module_not_found.log": (
        "No module named 'requests_toolbelt'",
        "'requests_toolbelt'",
    ),
    "missing_dependency/node_module_not_found.log": (
        "Cannot find module 'express-rate-limiter-pro'",
        "npm install express-rate-limiter-pro",
    ),
    "import_error/python_cannot_import_name.log": (
        "cannot import name 'Mapping' from 'collections'",
        "app/config.py:1",
    ),
    "failing_test/pytest_assertion.log": (
        "FAILED tests/test_calc.py::test_median_even",
        "pytest 'tests/test_calc.py::test_median_even'",
    ),
    "failing_test/noisy_ci_job.log": (
        "FAILED tests/test_pricing.py::test_discount_rounds_half_up",
        "assert 100 == 101",
    ),
    "failing_test/maven_surefire_ansi.log": (
        "shop.CartTest.roundsHalfCentsUp",
        "mvn test -Dtest=CartTest#roundsHalfCentsUp",
    ),
    "test_error/pytest_collection_import.log": (
        "ERROR collecting tests/test_report.py",
        "'yamlish_reporter'",
    ),
    "timeout/timeout_command_exit_124.log": ("exit code 124", "'migrating audit_log...'"),
    "timeout/python_subprocess_timeout.log": (
        "subprocess.TimeoutExpired: Command '['sleep', '30']' timed out",
        "timed out after",
    ),
    "out_of_memory/python_memoryerror.log": ("MemoryError", "build_index.py:4"),
    "out_of_memory/killed_exit_137.log": ("exit code 137", "'loaded shard 10'"),
    "network/python_dns_failure.log": ("Name or service not known", "could not be resolved"),
    "network/pip_connection_refused.log": ("Connection refused", "127.0.0.1:9"),
    "permission/script_not_executable.log": (
        "./scripts/deploy.sh: Permission denied",
        "chmod +x ./scripts/deploy.sh",
    ),
    "permission/python_permission_error.log": (
        "PermissionError: [Errno 13] Permission denied",
        "'/tmp/ci/perm/var/cache/thumbnails.db'",
    ),
    "disk_full/python_enospc.log": ("No space left on device", "export_model.py:4"),
    "disk_full/cp_enospc.log": ("No space left on device", "'/dev/full'"),
    "none/pytest_passed.log": ("2 passed", "Nothing to fix"),
    "none/cargo_test_ok.log": ("test result: ok.", "Nothing to fix"),
    "none/maven_build_success.log": ("BUILD SUCCESS", "Nothing to fix"),
}


def log_id(path: Path) -> str:
    return path.relative_to(LOGS).as_posix()


def diagnose(name: str) -> Diagnosis:
    return classify((LOGS / name).read_text(encoding="utf-8"))


def shown_lines(path: Path) -> list[str]:
    """The log's lines as a terminal shows them: colour codes gone, ends trimmed."""
    return [ANSI.sub("", line).strip() for line in path.read_text(encoding="utf-8").split("\n")]


# --- the classifier on real logs ----------------------------------------------------------


def test_every_real_log_has_an_expectation() -> None:
    assert sorted(map(log_id, LOG_FILES)) == sorted(EXPECTED)
    assert {p.parent.name for p in LOG_FILES} == {c.value for c in Category} - {"unknown"}


@pytest.mark.parametrize("path", LOG_FILES, ids=log_id)
def test_real_log_is_classified_with_evidence_and_advice(path: Path) -> None:
    diagnosis = classify(path.read_text(encoding="utf-8"))
    cause, advice = EXPECTED[log_id(path)]

    assert diagnosis.category.value == path.parent.name
    assert 0.5 <= diagnosis.confidence <= 1.0
    assert cause in diagnosis.evidence[0].text
    lines = shown_lines(path)
    for evidence in diagnosis.evidence:  # each line number points at the quoted line
        assert lines[evidence.line_no - 1].startswith(evidence.text.removesuffix("…"))
        assert len(evidence.text) <= 400
    assert any(advice in r for r in diagnosis.recommendations), diagnosis.recommendations
    assert diagnosis.summary
    json.dumps(diagnosis.to_dict(), allow_nan=False)


def test_noisy_log_picks_the_failing_test_over_the_red_herrings() -> None:
    diagnosis = diagnose("failing_test/noisy_ci_job.log")

    assert diagnosis.category is Category.FAILING_TEST
    assert dict(diagnosis.other_categories) == {Category.NETWORK: 5.0}  # the captured log line
    assert 0.5 < diagnosis.confidence < 1.0
    texts = " ".join(e.text for e in diagnosis.evidence)
    assert "timeout" not in texts.lower()
    assert "MemoryError" not in texts
    assert "1 failed, 5 passed" in texts


def test_unreachable_index_is_the_cause_not_the_missing_package() -> None:
    diagnosis = diagnose("network/pip_connection_refused.log")

    assert diagnosis.category is Category.NETWORK
    assert dict(diagnosis.other_categories) == {Category.MISSING_DEPENDENCY: 4.5}  # halved
    assert any("consequence" in r for r in diagnosis.recommendations)


def test_collection_error_names_the_module_that_is_missing() -> None:
    diagnosis = diagnose("test_error/pytest_collection_import.log")

    assert diagnosis.category is Category.TEST_ERROR
    assert diagnosis.other_categories == [(Category.MISSING_DEPENDENCY, 5.0)]
    assert (
        "ModuleNotFoundError: No module named 'yamlish_reporter'" in (diagnosis.recommendations[0])
    )


def test_exit_code_is_reported() -> None:
    assert diagnose("timeout/timeout_command_exit_124.log").exit_code == 124
    assert diagnose("out_of_memory/killed_exit_137.log").exit_code == 137
    assert diagnose("none/pytest_passed.log").exit_code is None


def test_ansi_codes_and_crlf_do_not_change_the_diagnosis() -> None:
    plain = (LOGS / "failing_test/pytest_assertion.log").read_text(encoding="utf-8")
    coloured = plain.replace("FAILED", "\x1b[31mFAILED\x1b[0m").replace("assert", "\x1b[1massert")
    windows = coloured.replace("\n", "\r\n")

    expected, got = classify(plain), classify(windows)
    assert "\x1b" in windows
    assert "\r\n" in windows
    assert got.category is expected.category is Category.FAILING_TEST
    assert got.evidence == expected.evidence
    assert got.recommendations == expected.recommendations


def test_real_coloured_maven_log_is_cleaned() -> None:
    raw = (LOGS / "failing_test/maven_surefire_ansi.log").read_text(encoding="utf-8")
    diagnosis = classify(raw)

    assert "\x1b[" in raw
    assert all("\x1b" not in e.text for e in diagnosis.evidence)


def test_progress_lines_rewritten_with_carriage_returns_keep_the_last_state() -> None:
    log = "downloading 10%\rdownloading 100%\rOSError: [Errno 28] No space left on device\n"
    diagnosis = classify(log)

    assert diagnosis.category is Category.DISK_FULL
    assert diagnosis.evidence[0].text == "OSError: [Errno 28] No space left on device"


def test_huge_log_analyses_only_the_tail_and_says_so() -> None:
    noise = (LOGS / "none/maven_build_success.log").read_text(encoding="utf-8").splitlines()
    killed = (LOGS / "out_of_memory/killed_exit_137.log").read_text(encoding="utf-8")
    # an early failure, then enough noise to push it out of the analysed tail
    early = "E   MemoryError\n" + "\n".join(noise[i % len(noise)] for i in range(MAX_LINES + 5000))
    log = early + "\n" + killed

    diagnosis = classify(log)

    total = MAX_LINES + 5001 + killed.count("\n")
    assert diagnosis.lines_total == total
    assert diagnosis.lines_analysed == MAX_LINES
    assert diagnosis.notes == [
        f"analysed the last {MAX_LINES} of {total} lines; anything earlier in the log was "
        "not considered"
    ]
    assert diagnosis.category is Category.OUT_OF_MEMORY
    assert all(e.line_no > total - 10 for e in diagnosis.evidence)  # numbered in the whole log
    assert diagnosis.evidence[0].text == log.split("\n")[diagnosis.evidence[0].line_no - 1]
    assert all("MemoryError" not in e.text for e in diagnosis.evidence)


def test_one_giant_line_is_cut_not_choked_on() -> None:
    diagnosis = classify("x" * 5_000_000 + "\nKilled\n")
    assert diagnosis.category is Category.OUT_OF_MEMORY
    assert diagnosis.evidence[0].line_no == 2


def test_a_log_without_any_known_pattern_is_unknown() -> None:
    diagnosis = classify("$ ./deploy.sh\nstarting\nsomething odd happened\nexit status 3\n")

    assert diagnosis.category is Category.UNKNOWN
    assert diagnosis.confidence == 0.0
    assert diagnosis.evidence == []
    assert diagnosis.exit_code == 3
    assert "exit code 3" in diagnosis.recommendations[0]
    assert classify("").category is Category.UNKNOWN


def test_max_evidence_limits_the_lines() -> None:
    text = "\n".join(f"FAILED tests/test_a.py::test_{i} - assert False" for i in range(8))
    assert len(classify(text, max_evidence=1).evidence) == 1
    assert len(classify(text).evidence) == 5
    assert len(classify(text, max_evidence=50).evidence) == 8
    with pytest.raises(ValueError, match="max_evidence"):
        classify(text, max_evidence=0)


# Each rule on a typical line it exists for (lines from tools' documentation and issue
# reports; the real logs above cover the common ones end to end).
RULE_EXAMPLES = {
    "pip_cannot_install": "ERROR: Cannot install a==1 and b==2 because these package versions have conflicting dependencies.",  # noqa: E501
    "pip_resolution_impossible": "ERROR: ResolutionImpossible: for help visit https://pip.pypa.io/",
    "pip_conflict_cause": "The conflict is caused by:",
    "conflicting_dependencies": "Some packages have conflicting dependencies",
    "pip_incompatible": "requests 2.31.0 requires urllib3<3,>=1.21.1, but you have urllib3 3.0.0 which is incompatible.",  # noqa: E501
    "npm_eresolve": "npm ERR! code ERESOLVE",
    "npm_peer": 'npm error peer react@"^18.2.0" from react-dom@18.2.0',
    "npm_found": "npm ERR! Found: react@17.0.2",
    "solver_failed": "Because app depends on foo ^2.0.0 which doesn't match any versions, version solving failed.",  # noqa: E501
    "pip_no_matching_distribution": "ERROR: No matching distribution found for leftpadx",
    "pip_no_version": "ERROR: Could not find a version that satisfies the requirement leftpadx (from versions: none)",  # noqa: E501
    "python_no_module": "ModuleNotFoundError: No module named 'yaml'",
    "node_cannot_find_package": "Error: Cannot find module 'lodash'",
    "node_module_not_found": "code: 'MODULE_NOT_FOUND',",
    "npm_404": "npm ERR! 404 Not Found - GET https://registry.npmjs.org/left-padx - Not found",
    "maven_unresolved": "[ERROR] Failed to execute goal on project app: Could not resolve dependencies for project com.acme:app:jar:1.0",  # noqa: E501
    "c_header_missing": "main.c:1:10: fatal error: zlib.h: No such file or directory",
    "command_not_found": "bash: line 1: cmake: command not found",
    "exit_127": "Error: Process completed with exit code 127.",
    "cargo_no_package": "error: no matching package named `serde_jsonx` found",
    "go_no_module": "main.go:4:2: no required module provides package github.com/acme/missing; to add it:",  # noqa: E501
    "python_cannot_import_name": "ImportError: cannot import name 'soft_unicode' from 'markupsafe' (/venv/lib/python3.11/site-packages/markupsafe/__init__.py)",  # noqa: E501
    "python_circular_import": "ImportError: cannot import name 'app' from partially initialized module 'server' (most likely due to a circular import)",  # noqa: E501
    "python_relative_import": "ImportError: attempted relative import with no known parent package",
    "python_no_submodule": "ModuleNotFoundError: No module named 'app.settings'",
    "python_import_error": "ImportError: libGL.so.1: cannot open shared object file: No such file or directory",  # noqa: E501
    "node_cannot_find_file": "Error: Cannot find module './config/local'",
    "java_class_not_found": 'Exception in thread "main" java.lang.NoClassDefFoundError: org/slf4j/LoggerFactory',  # noqa: E501
    "syntax_error": "SyntaxError: invalid syntax",
    "php_parse_error": "PHP Parse error:  syntax error, unexpected '}' in /app/index.php line 12",
    "c_compiler_error": "src/main.c:12:5: error: expected ';' before 'return'",
    "javac_error": "src/Main.java:3: error: cannot find symbol",
    "rustc_error": "error[E0425]: cannot find value `x` in this scope",
    "rustc_aborting": 'error: could not compile `app` (bin "app") due to 1 previous error',
    "tsc_error": "src/index.ts(4,7): error TS2322: Type 'string' is not assignable to type 'number'.",  # noqa: E501
    "maven_compilation_error": "[ERROR] COMPILATION ERROR :",
    "error_count": "2 errors",
    "undefined_reference": "main.c:(.text+0x1a): undefined reference to `sqrt'",
    "ld_exit_status": "collect2: error: ld returned 1 exit status",
    "undefined_symbols": "Undefined symbols for architecture arm64:",
    "ld_cannot_find_lib": "/usr/bin/ld: cannot find -lssl: No such file or directory",
    "multiple_definition": "/usr/bin/ld: b.o: multiple definition of `counter'; a.o:(.bss+0x0): first defined here",  # noqa: E501
    "unresolved_external": "main.obj : error LNK2019: unresolved external symbol _foo referenced in function _main",  # noqa: E501
    "pytest_failed_id": "FAILED tests/test_x.py::test_y - AssertionError: boom",
    "pytest_verbose_failed": "tests/test_x.py::test_y FAILED                          [ 50%]",
    "pytest_failed_count": "========== 2 failed, 10 passed in 1.23s ==========",
    "pytest_assert": "E       assert 1 == 2",
    "assertion_error": "AssertionError: expected 3 rows",
    "junit_assertion": "org.opentest4j.AssertionFailedError: expected: <1> but was: <2>",
    "surefire_failures": "[ERROR] Tests run: 4, Failures: 2, Errors: 0, Skipped: 0",
    "surefire_test_id": "[ERROR] com.acme.FooTest.bar -- Time elapsed: 0.01 s <<< FAILURE!",
    "maven_test_failures": "[ERROR] There are test failures.",
    "cargo_test_failed": "test tests::adds ... FAILED",
    "go_test_failed": "--- FAIL: TestParse (0.00s)",
    "jest_failed": "Tests:       1 failed, 4 passed, 5 total",
    "unittest_failed": "FAIL: test_add (test_math.MathTest.test_add)",
    "pytest_collection_error": "_____ ERROR collecting tests/test_a.py _____",
    "pytest_collection_interrupted": "!!!!! Interrupted: 2 errors during collection !!!!!",
    "pytest_import_test_module": "ImportError while importing test module '/src/tests/test_a.py'.",
    "pytest_error_id": "ERROR tests/test_db.py::test_insert - sqlalchemy.exc.OperationalError",
    "pytest_setup_error": "_____ ERROR at setup of test_insert _____",
    "pytest_fixture_missing": "E       fixture 'database' not found",
    "pytest_error_count": "===== 1 passed, 1 error in 0.10s =====",
    "surefire_errors": "[ERROR] Tests run: 3, Failures: 0, Errors: 1, Skipped: 0",
    "timed_out": "Command timed out after 600 seconds",
    "timeout_exception": "subprocess.TimeoutExpired: Command 'make' timed out after 60 seconds",
    "pytest_timeout": "E   Failed: Timeout >5.0s",
    "deadline_exceeded": "rpc error: code = DeadlineExceeded desc = context deadline exceeded",
    "exit_124": "##[error]Process completed with exit code 124.",
    "ci_time_limit": "##[error]The job running on runner GitHub Actions 2 has exceeded the maximum execution time of 360 minutes.",  # noqa: E501
    "timeout_command": "+ timeout 30m ./run-tests.sh",
    "memory_error": "numpy.core._exceptions._ArrayMemoryError: Unable to allocate 7.45 GiB for an array",  # noqa: E501
    "oom_killed": "Reason: OOMKilled",
    "out_of_memory": "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory",  # noqa: E501
    "cannot_allocate": "fork: Cannot allocate memory",
    "killed": "Killed",
    "exit_137": "Error: Process completed with exit code 137.",
    "sigkill": "The process was terminated by SIGKILL",
    "connection_refused": 'connection to server at "localhost" (127.0.0.1), port 5432 failed: Connection refused',  # noqa: E501
    "dns_failure": "curl: (6) Could not resolve host: example.invalid",
    "unreachable": "connect: Network is unreachable",
    "connection_timed_out": "npm ERR! code ETIMEDOUT",
    "connection_reset": "Error: read ECONNRESET",
    "new_connection_failed": "Max retries exceeded with url: /simple/ (Caused by ProxyError)",
    "certificate": "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate",  # noqa: E501
    "retrying": "WARNING: Retrying (Retry(total=4, connect=None, read=None, redirect=None, status=None))",  # noqa: E501
    "permission_error": "PermissionError: [Errno 13] Permission denied: '/var/log/app.log'",
    "permission_denied": "npm ERR! Error: EACCES: permission denied, mkdir '/usr/lib/node_modules'",
    "not_permitted": "chown: changing ownership of '/data': Operation not permitted",
    "exit_126": "Error: Process completed with exit code 126.",
    "no_space": "write /var/lib/docker/tmp/layer: no space left on device",
    "errno_28": "OSError: [Errno 28] No space left on device",
    "not_enough_space": "There is not enough space on the disk.",
    "pytest_passed": "============ 12 passed in 0.50s ============",
    "build_success": "BUILD SUCCESSFUL in 12s",
    "cargo_test_ok": "test result: ok. 5 passed; 0 failed; 0 ignored",
    "surefire_clean": "Tests run: 5, Failures: 0, Errors: 0, Skipped: 0",
    "go_test_ok": "ok  \tgithub.com/acme/app\t0.012s",
    "checks_passed": "All checks passed!",
    "unittest_ok": "OK (skipped=1)",
    "jest_passed": "Tests:       5 passed, 5 total",
}


def test_every_rule_has_an_example() -> None:
    assert sorted(RULE_EXAMPLES) == sorted(rule.name for rule in RULES)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.name)
def test_rule_matches_its_example_and_classifies_it(rule: Any) -> None:
    line = RULE_EXAMPLES[rule.name]
    assert rule.pattern.search(line)
    assert classify(line).category is rule.category


def test_keywords_never_hide_a_line_a_pattern_matches() -> None:
    """A rule is only tried on lines containing one of its keywords: for every line of every
    real log and example, a pattern match implies the keyword is there."""
    lines = [line for path in LOG_FILES for line in shown_lines(path)]
    lines += list(RULE_EXAMPLES.values())
    for rule in RULES:
        for line in lines:
            if rule.pattern.search(line):
                assert any(k in line.lower() for k in rule.keywords), (rule.name, line)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.sampled_from([*list(RULE_EXAMPLES.values()), "", "noise", "\x1b[32mok\x1b[0m"]),
        max_size=30,
    )
)
def test_any_mix_of_lines_gives_a_valid_diagnosis(lines: list[str]) -> None:
    diagnosis = classify("\n".join(lines))

    assert 0.0 <= diagnosis.confidence <= 1.0
    assert diagnosis.recommendations
    assert all(1 <= e.line_no <= len(lines) for e in diagnosis.evidence)
    assert all(score > 0 for _, score in diagnosis.other_categories)
    json.dumps(diagnosis.to_dict(), allow_nan=False)


# --- profiles ------------------------------------------------------------------------------


def test_quadratic_function_is_the_top_hotspot_of_the_real_profile() -> None:
    report = analyse_profile(PROFILES / "dedupe.prof")

    top = report.hotspots[0]
    assert top.function.endswith("(dedupe_quadratic)")
    assert top.own_share > 0.8
    assert top.calls == 1
    assert report.top_own[0] == top
    assert [h.function for h in report.hotspots] == [top.function]  # the set version is not one
    fast = next(f for f in report.top_cumulative if f.function.endswith("(dedupe_with_set)"))
    assert fast.cumulative_seconds * 10 < top.own_seconds
    assert "algorithm" in report.recommendations[0]
    assert "dedupe_quadratic" in (report.recommendations[0])
    assert report.total_calls > 100_000
    json.dumps(report.to_dict(), allow_nan=False)


def test_tiny_function_called_per_byte_is_a_call_count_hotspot() -> None:
    report = analyse_profile(PROFILES / "checksum.prof")

    by_name = {h.function.rsplit("(", 1)[-1].rstrip(")"): h for h in report.hotspots}
    assert set(by_name) == {"rolling_checksum", "mix"}
    mix = by_name["mix"]
    assert mix.calls == 307_200
    assert mix.per_call_seconds < 5e-6
    advice = next(r for r in report.recommendations if "(mix)" in r)
    assert "307,200 calls from" in advice
    assert "(rolling_checksum)" in advice
    assert "batch" in advice


def test_profile_can_be_given_as_stats_and_limited() -> None:
    stats = pstats.Stats(str(PROFILES / "dedupe.prof"))
    report = analyse_profile(stats, top=3)

    assert len(report.top_own) == len(report.top_cumulative) == 3
    assert report.top_cumulative[0].cumulative_share == pytest.approx(1.0, abs=0.01)
    assert all(
        f.cumulative_seconds >= g.cumulative_seconds
        for f, g in zip(report.top_cumulative, report.top_cumulative[1:], strict=False)
    )


def test_sleeping_is_reported_as_waiting_not_computing() -> None:
    profiler = cProfile.Profile()
    profiler.runcall(time.sleep, 0.05)
    report = analyse_profile(pstats.Stats(profiler))

    assert report.hotspots[0].function == "{built-in method time.sleep}"
    assert report.hotspots[0].own_share > 0.9
    assert "waiting rather than computing" in report.recommendations[0]


def test_a_file_that_is_not_a_profile_is_refused(tmp_path: Path) -> None:
    bogus = tmp_path / "x.prof"
    bogus.write_text("not a profile")
    with pytest.raises(ProfileError, match="cannot read a cProfile profile"):
        analyse_profile(bogus)


# --- timings ---------------------------------------------------------------------------------


def test_timings_are_summarised_slowest_first() -> None:
    report = analyse_timings(
        {
            "code_review/guardian": [0.2, 0.3, 0.25, 0.2, 0.3],
            "log_analysis/conquest": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            "experiment/sandbox": [9.0, 11.0, 10.0, 10.0, 10.0],
        }
    )

    assert [i.name for i in report.items] == [
        "experiment/sandbox",
        "log_analysis/conquest",
        "code_review/guardian",
    ]
    conquest = report.items[1]
    assert (conquest.count, conquest.mean, conquest.p50, conquest.max) == (6, 3.5, 3.5, 6.0)
    assert conquest.p95 == pytest.approx(5.75)
    assert report.regressions == []
    assert report.too_few_samples == []
    assert report.recommendations == ["Slowest: experiment/sandbox (p50 10.000 s, n=5)."]


def test_baseline_comparison_gives_the_ratio_with_the_counts() -> None:
    report = analyse_timings(
        {"build/conquest": [2.0, 2.2, 1.8, 2.0, 2.1], "lint/guardian": [1.0] * 6},
        baseline={"build/conquest": [1.0, 1.1, 0.9, 1.0, 1.0, 1.0], "lint/guardian": [2.0] * 5},
    )

    build = next(i for i in report.items if i.name == "build/conquest")
    assert build.baseline is not None
    assert build.baseline.ratio == 2.0
    assert build.baseline.verdict == "slower"
    assert build.baseline.message == (
        "p50 2.000 s vs 1.000 s: slower than baseline by 2.0x (n=5 now, n=6 in the baseline)"
    )
    assert report.regressions == ["build/conquest"]
    assert report.improvements == ["lint/guardian"]
    assert report.recommendations[0].startswith("build/conquest: p50 2.000 s vs 1.000 s")


def test_too_few_samples_gives_no_claim() -> None:
    report = analyse_timings(
        {"rare/imperium": [5.0, 6.0, 7.0]}, baseline={"rare/imperium": [1.0] * 10}
    )

    item = report.items[0]
    assert not item.enough_samples
    assert item.baseline is not None
    assert item.baseline.ratio is None
    assert item.baseline.verdict == "too few samples"
    assert "n=3 now" in item.baseline.message
    assert "need 5" in item.baseline.message
    assert report.regressions == []
    assert report.too_few_samples == ["rare/imperium"]
    assert report.recommendations == [
        "Too few samples for a claim about rare/imperium (n=3): need at least 5."
    ]


def test_tail_latency_is_pointed_out() -> None:
    report = analyse_timings({"fetch/remote": [1.0] * 18 + [9.0, 10.0]})
    assert "p95" in report.recommendations[0]
    assert "n=20" in report.recommendations[0]


def test_samples_as_a_list_equal_the_mapping_form() -> None:
    as_list = [{"name": "a", "seconds": s} for s in (1, 2, 3, 4, 5)]
    assert analyse_timings(as_list) == analyse_timings({"a": [1, 2, 3, 4, 5]})


def test_no_timings_is_a_report_not_an_error() -> None:
    report = analyse_timings({}, baseline={})
    assert report.items == []
    assert report.recommendations == ["No durations received: nothing to analyse for this period."]


@pytest.mark.parametrize(
    ("samples", "message"),
    [
        ({"a": [1.0, -2.0]}, "must be finite and >= 0"),
        ({"a": [float("nan")]}, "must be finite"),
        ({"a": ["slow"]}, "not a number"),
        ({"a": [True]}, "not a number"),
        ({"a": 3.0}, "must be a list of seconds"),
        ([{"name": "a"}], "needs 'name' and 'seconds'"),
    ],
)
def test_invalid_durations_are_refused(samples: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        analyse_timings(samples)


# --- the agent -------------------------------------------------------------------------------


async def run_conquest(task_type: str, payload: Any, **config: Any) -> Any:
    ctx = TaskContext("t-1", task_type, payload, 1, "conquest")
    return await ConquestAgent(config=config).run(ctx)


def test_conquest_is_an_installed_blocking_agent() -> None:
    assert load_agent_class("conquest") is ConquestAgent
    assert ConquestAgent.blocking is True


async def test_log_analysis_from_text_and_from_a_file() -> None:
    path = LOGS / "link_error/gcc_undefined_reference.log"
    from_path = await run_conquest("log_analysis", {"path": str(path)})
    from_text = await run_conquest(
        "log_analysis", {"log": path.read_text(encoding="utf-8"), "max_evidence": 1}
    )

    assert from_path["category"] == from_text["category"] == "link_error"
    assert from_path["evidence"][0] == {
        "line_no": 3,
        "text": "app.c:(.text+0xf): undefined reference to `checksum'",
        "rule": "undefined_reference",
    }
    assert len(from_text["evidence"]) == 1
    json.dumps(from_path, allow_nan=False)


async def test_performance_analysis_of_a_profile() -> None:
    result = await run_conquest(
        "performance_analysis", {"profile_path": str(PROFILES / "dedupe.prof"), "top": 5}
    )

    assert result["kind"] == "profile"
    assert result["hotspots"][0]["function"].endswith("(dedupe_quadratic)")
    assert len(result["top_own"]) == 5
    json.dumps(result, allow_nan=False)


async def test_performance_analysis_of_scheduled_timings() -> None:
    payload = {  # the shape the schedule sends: this period and the one before
        "timings": {"log_analysis/conquest": [0.9, 1.1, 1.0, 1.2, 0.8, 1.0]},
        "baseline": {"log_analysis/conquest": [0.3, 0.3, 0.35, 0.25, 0.3]},
    }
    result = await run_conquest("performance_analysis", payload)

    assert result["kind"] == "timings"
    assert result["regressions"] == ["log_analysis/conquest"]
    assert result["items"][0]["baseline"]["ratio"] == pytest.approx(3.333, abs=0.001)
    json.dumps(result, allow_nan=False)


@pytest.mark.parametrize(
    ("task_type", "payload", "config", "message"),
    [
        ("log_analysis", "a log", {}, "the payload must be an object, not str"),
        ("log_analysis", {}, {}, 'exactly one of "log" and "path"'),
        ("log_analysis", {"log": "x", "path": "y"}, {}, 'exactly one of "log" and "path"'),
        ("log_analysis", {"log": "x", "colour": True}, {}, r"unknown payload keys \['colour'\]"),
        ("log_analysis", {"log": b"bytes"}, {}, '"log" must be a string'),
        ("log_analysis", {"log": "x", "max_evidence": 0}, {}, '"max_evidence" must be'),
        ("log_analysis", {"log": "x", "max_evidence": True}, {}, '"max_evidence" must be'),
        ("log_analysis", {"log": "x" * 101}, {"max_log_bytes": 100}, "larger than 100 bytes"),
        ("log_analysis", {"path": "/no/such/file.log"}, {}, "is not a file"),
        ("log_analysis", {"path": str(LOGS)}, {}, "is not a file"),
        ("log_analysis", {"path": ""}, {}, '"path" must be a non-empty string'),
        (
            "log_analysis",
            {"path": str(LOGS / "none/pytest_passed.log")},
            {"max_log_bytes": 10},
            "more than the limit of 10",
        ),
        (
            "log_analysis",
            {"path": str(LOGS / "none/pytest_passed.log")},
            {"allowed_roots": [str(PROFILES)]},
            "outside the allowed roots",
        ),
        ("performance_analysis", {}, {}, 'exactly one of "profile_path" and "timings"'),
        ("performance_analysis", {"timings": "fast"}, {}, '"timings" must be an object'),
        ("performance_analysis", {"timings": {"a": [-1]}}, {}, "must be finite and >= 0"),
        ("performance_analysis", {"timings": {}, "baseline": 3}, {}, '"baseline" must be'),
        ("performance_analysis", {"timings": {}, "min_samples": 0}, {}, '"min_samples" must'),
        (
            "performance_analysis",
            {"profile_path": str(LOGS / "none/pytest_passed.log")},
            {},
            "cannot read a cProfile profile",
        ),
        (
            "performance_analysis",
            {"profile_path": str(PROFILES / "dedupe.prof"), "baseline": {}},
            {},
            'go with "timings"',
        ),
        ("deploy", {"log": "x"}, {}, "does log_analysis and performance_analysis tasks"),
    ],
)
async def test_bad_payloads_fail_at_once_saying_why(
    task_type: str, payload: Any, config: dict[str, Any], message: str
) -> None:
    with pytest.raises(TaskFailed, match=message) as caught:
        await run_conquest(task_type, payload, **config)
    assert caught.value.kind == "bad_input"
    assert caught.value.retryable is False


async def test_a_log_is_read_by_its_real_path_and_never_the_servers_database(
    tmp_path: Path,
) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "secret.log").write_text("FAILED test_x - the secret of the outside\n")
    (root / "imperium.db").write_text("FAILED test_y - a row of the server's database\n")
    (root / "imperium.db-wal").write_text("FAILED test_z - its write-ahead log\n")
    (root / "out.log").symlink_to(outside / "secret.log")
    (root / "db.log").symlink_to(root / "imperium.db")
    (root / "ci.log").write_text("ERROR: No matching distribution found for nothing==1\n")
    denied = [str(root / name) for name in ("imperium.db", "imperium.db-wal", "imperium.db-shm")]
    config = {"allowed_roots": [str(root)], "denied_files": denied}

    refused = {
        "out.log": "is outside the allowed roots",
        "imperium.db": "is the server's database, which the agents never read",
        "imperium.db-wal": "is the server's database",
        "db.log": "is the server's database",
    }
    for name, message in refused.items():
        with pytest.raises(TaskFailed, match=message) as caught:
            await run_conquest("log_analysis", {"path": str(root / name)}, **config)
        assert caught.value.kind == "bad_input"
        with pytest.raises(TaskFailed, match=message):
            await run_conquest("performance_analysis", {"profile_path": str(root / name)},
                               **config)  # fmt: skip
    result = await run_conquest("log_analysis", {"path": str(root / "ci.log")}, **config)
    assert result["category"] == "missing_dependency"
