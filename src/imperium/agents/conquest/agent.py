"""``conquest``: diagnoses build and test logs, and analyses performance.

Task type ``log_analysis`` — payload one of::

    {"log": "<the log's text>"}          # at most 20 MB
    {"path": "<a log file>"}             # at most 20 MB, read as UTF-8 (bad bytes replaced)

optionally with ``"max_evidence": 5`` (1-50). Result: the
:class:`~imperium.agents.conquest.classify.Diagnosis` as a dict — ``category`` (``failing_test``,
``dependency_conflict``, … ``none`` for a successful run, ``unknown``), ``confidence``,
``summary``, ``evidence`` (``line_no``, ``text``, ``rule``), ``recommendations``,
``other_categories``, ``lines_total``, ``lines_analysed``, ``exit_code``, ``notes``.

Task type ``performance_analysis`` — payload one of::

    {"profile_path": "<a .prof file written by python -m cProfile -o>", "top": 10}
    {"timings": {"<name>": [seconds, ...]}, "baseline": {"<name>": [seconds, ...]},
     "min_samples": 5}

(``timings`` and ``baseline`` may also be lists of ``{"name", "seconds"}``; ``baseline``
is optional). The scheduled analysis sends ``<task_type>/<agent>`` names with the
durations of this period and of the one before as the baseline. Result: the
:class:`~imperium.agents.conquest.profiles.ProfileReport` or
:class:`~imperium.agents.conquest.timings.TimingReport` as a dict, under ``"kind": "profile"`` or
``"kind": "timings"``.

A payload the agent cannot use fails the task at once (``kind="bad_input"``, not retried)
with a message saying what to send. A file is read by its real path (every link resolved):
agent configuration ``allowed_roots`` (when set, a file whose real path is outside these
directories is refused), ``denied_files`` (refused; the server lists its database files)
and ``max_log_bytes`` (default 20 MB).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from imperium.agents._file_access import OUTSIDE_ROOTS, FileAccess
from imperium.agents.base import Agent, TaskContext, TaskFailed
from imperium.agents.conquest.classify import classify
from imperium.agents.conquest.profiles import ProfileError, analyse_profile
from imperium.agents.conquest.timings import analyse_timings

TASK_TYPES = ("log_analysis", "performance_analysis")
MAX_LOG_BYTES = 20 * 1024 * 1024
MAX_PROFILE_BYTES = 200 * 1024 * 1024
MAX_EVIDENCE = 50
LOG_HELP = 'send {"log": "<text>"} or {"path": "<log file>"}, optionally with "max_evidence"'
PERFORMANCE_HELP = (
    'send {"profile_path": "<file.prof>"} or {"timings": {"<name>": [seconds, ...]}} '
    'with an optional "baseline" of the same shape'
)


def _bad_input(message: str) -> TaskFailed:
    return TaskFailed(message, kind="bad_input", retryable=False)


def _payload(payload: Any, allowed: Sequence[str], help_text: str) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise _bad_input(
            f"the payload must be an object, not {type(payload).__name__}; {help_text}"
        )
    unknown = sorted(set(payload) - set(allowed))
    if unknown:
        raise _bad_input(f"unknown payload keys {unknown}; {help_text}")
    return payload


def _whole_number(payload: dict[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = payload.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _bad_input(f'"{key}" must be a whole number from {low} to {high}, got {value!r}')
    return value


class ConquestAgent(Agent):
    description = "Diagnoses build/test logs (failure kind, evidence, fixes) and slow code."
    blocking = True  # reads files and runs regexes over up to 20 MB

    def run_blocking(self, ctx: TaskContext) -> dict[str, Any]:
        if ctx.type == "log_analysis":
            return self.analyse_log(ctx.payload)
        if ctx.type == "performance_analysis":
            return self.analyse_performance(ctx.payload)
        raise _bad_input(
            f"the conquest agent does {' and '.join(TASK_TYPES)} tasks, not '{ctx.type}'"
        )

    def analyse_log(self, raw: Any) -> dict[str, Any]:
        payload = _payload(raw, ("log", "path", "max_evidence"), LOG_HELP)
        if ("log" in payload) == ("path" in payload):
            raise _bad_input(f'give exactly one of "log" and "path"; {LOG_HELP}')
        max_evidence = _whole_number(payload, "max_evidence", 5, 1, MAX_EVIDENCE)
        limit = int(self.config.get("max_log_bytes", MAX_LOG_BYTES))
        if "path" in payload:
            path = self._file(payload["path"], "path", limit)
            text = path.read_bytes().decode("utf-8", errors="replace")
        else:
            text = payload["log"]
            if not isinstance(text, str):
                raise _bad_input(f'"log" must be a string, not {type(text).__name__}')
            if len(text) > limit or len(text.encode("utf-8", errors="replace")) > limit:
                raise _bad_input(
                    f"the log is larger than {limit} bytes: send its tail (failures are "
                    "reported at the end of a log)"
                )
        return classify(text, max_evidence=max_evidence).to_dict()

    def analyse_performance(self, raw: Any) -> dict[str, Any]:
        payload = _payload(
            raw, ("profile_path", "top", "timings", "baseline", "min_samples"), PERFORMANCE_HELP
        )
        if ("profile_path" in payload) == ("timings" in payload):
            raise _bad_input(
                f'give exactly one of "profile_path" and "timings"; {PERFORMANCE_HELP}'
            )
        if "profile_path" in payload:
            if "baseline" in payload or "min_samples" in payload:
                raise _bad_input('"baseline" and "min_samples" go with "timings", not a profile')
            path = self._file(payload["profile_path"], "profile_path", MAX_PROFILE_BYTES)
            top = _whole_number(payload, "top", 10, 1, 1000)
            try:
                return {"kind": "profile", **analyse_profile(path, top=top).to_dict()}
            except ProfileError as exc:
                raise _bad_input(f"{exc}; it must be written by `python -m cProfile -o`") from exc
        min_samples = _whole_number(payload, "min_samples", 5, 1, 1_000_000)
        timings, baseline = payload["timings"], payload.get("baseline")
        for key, value in (("timings", timings), ("baseline", baseline)):
            if value is not None and not isinstance(value, dict | list):
                raise _bad_input(f'"{key}" must be an object or a list; {PERFORMANCE_HELP}')
        try:
            report = analyse_timings(timings, baseline, min_samples=min_samples)
        except ValueError as exc:
            raise _bad_input(f"{exc}; {PERFORMANCE_HELP}") from exc
        return {"kind": "timings", **_finite(report.to_dict())}

    def _file(self, raw: Any, key: str, limit: int) -> Path:
        if not isinstance(raw, str) or not raw:
            raise _bad_input(f'"{key}" must be a non-empty string')
        path = Path(raw).expanduser().resolve()  # the real file: read by this name only
        access = FileAccess.from_config(self.config)
        refusal = access.refusal(path)
        if refusal == OUTSIDE_ROOTS:
            raise _bad_input(f"'{raw}' is outside the allowed roots ({access.describe_roots()})")
        if refusal is not None:
            raise _bad_input(f"'{raw}' is {refusal}, which the agents never read")
        if not path.is_file():
            raise _bad_input(f"'{raw}' is not a file (on the agent's machine)")
        size = path.stat().st_size
        if size > limit:
            raise _bad_input(f"'{raw}' is {size} bytes, more than the limit of {limit}")
        return path


def _finite(value: Any) -> Any:
    """Results are stored as JSON: no NaN or infinity anywhere (none are expected)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value
