"""Reading a build or test log into evidence: the analysed tail of the log, cleaned
(ANSI codes, carriage returns, over-long lines), and the lines the rules of :mod:`.rules`
match, each with the heaviest rule of its category."""

from __future__ import annotations

import re
from dataclasses import dataclass

from imperium.agents.conquest.rules import RULES, Category, Rule

MAX_LINES = 20_000  # only the tail is analysed: failures are reported at the end of a log
MAX_LINE_CHARS = 4_000  # longer lines (minified bundles, base64) are cut before matching

_RULES_BY_KEYWORD: dict[str, list[Rule]] = {}
for _rule in RULES:
    for _keyword in _rule.keywords:
        _RULES_BY_KEYWORD.setdefault(_keyword, []).append(_rule)
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][A-Z0-9]")
_PASSED_LINE = re.compile(r"(?:\bPASSED|\bSKIPPED|\bXFAIL|\bXPASS)(?:\s+\[\s*\d+%\])?$|\.\.\. ok$")
_EXIT_CODE = re.compile(r"\bexit (?:code|status)[: ]+(\d+)\b")


@dataclass(frozen=True, slots=True)
class Hit:
    """A line matched by a rule: the heaviest rule of its category on that line."""

    line_no: int
    text: str
    rule: Rule
    groups: dict[str, str]


@dataclass(frozen=True, slots=True)
class LogLines:
    """The analysed tail of a log, cleaned; ``lines[0]`` is line ``first_line_no``."""

    lines: list[str]
    first_line_no: int
    total: int

    def at(self, line_no: int) -> str:
        index = line_no - self.first_line_no
        return self.lines[index] if 0 <= index < len(self.lines) else ""

    def before(self, line_no: int) -> range:
        """Line numbers from ``line_no - 1`` back to the first analysed line."""
        return range(line_no - 1, self.first_line_no - 1, -1)


def prepare(log: str, max_lines: int = MAX_LINES) -> LogLines:
    """Split on newlines (CRLF too), keep the last ``max_lines``, strip ANSI codes, and keep
    what a terminal shows of a line rewritten with bare carriage returns."""
    raw = log.split("\n")
    if raw and raw[-1] == "":
        raw.pop()
    total = len(raw)
    tail = raw[-max_lines:] if total > max_lines else raw
    cleaned = []
    for line in tail:
        line = _ANSI.sub("", line[: MAX_LINE_CHARS * 2].rstrip("\r"))
        if "\r" in line:
            line = line.rsplit("\r", 1)[-1]
        cleaned.append(line[:MAX_LINE_CHARS].rstrip())
    return LogLines(cleaned, total - len(tail) + 1, total)


def find_hits(log: LogLines) -> list[Hit]:
    hits: list[Hit] = []
    for index, line in enumerate(log.lines):
        text = line.strip()
        lowered = text.lower()
        names = {r.name for k, rs in _RULES_BY_KEYWORD.items() if k in lowered for r in rs}
        if not names or _PASSED_LINE.search(text):
            continue
        best: dict[Category, Hit] = {}
        for rule in (r for r in RULES if r.name in names):  # table order breaks ties
            match = rule.pattern.search(text)
            current = best.get(rule.category)
            if match and (current is None or rule.weight > current.rule.weight):
                groups = {k: v for k, v in match.groupdict().items() if v}
                best[rule.category] = Hit(log.first_line_no + index, text, rule, groups)
        hits.extend(best.values())
    return hits


def last_exit_code(log: LogLines) -> int | None:
    for line in reversed(log.lines):
        match = _EXIT_CODE.search(line)
        if match:
            return int(match.group(1))
    return None
