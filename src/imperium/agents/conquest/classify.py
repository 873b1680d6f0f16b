"""Classifying a build or test log: what kind of failure it shows, the lines that show it,
and what to do about it. Stdlib only, no I/O; the agent (:mod:`.agent`) calls it.

How it decides. Each rule is a regular expression with a weight that points at one
category. A line counts at most once per category (its heaviest rule) and a rule counts at
most ``REPEAT_CAP`` lines, so a message printed a thousand times is not a thousand times
the evidence. A category's score is the sum of those weights. The failure category with
the highest score wins; ``confidence`` is its share of the total score of every category
(success markers included): 1.0 when every matching line points the same way, lower when
the log also shows other kinds of trouble. It is a share of evidence, not a probability.
The categories and the table of rules are in :mod:`.rules`; reading the log into matched
lines is :mod:`.evidence`, the recommendations :mod:`.advice`.

``none`` (success) wins only when the log has success markers (``2 passed``, ``BUILD
SUCCESS``, ``test result: ok``) and no failure category reaches ``DECISIVE_SCORE``;
``unknown`` when nothing matched.

Missing versus broken imports. ``missing_dependency``: a package that is not installed or
cannot be found (pip's "No matching distribution", ``No module named 'x'`` for a
top-level module, Node's ``Cannot find module 'x'`` for a bare package name, a missing C
header, ``command not found``). ``import_error``: the import fails although the package is
there (``cannot import name``, a submodule missing inside a package, a relative path Node
cannot find, a circular import). An import that fails while pytest collects tests scores
as ``test_error`` (no test in that module ran); the recommendation names the module.

Symptoms. An index that cannot be reached makes every package look missing, so pip's
"no matching distribution" counts half once the network evidence is decisive.

Input. ANSI colour codes are stripped, CRLF and bare carriage returns (progress bars) are
handled, lines are cut at ``MAX_LINE_CHARS``, and only the last ``MAX_LINES`` lines are
analysed (``notes`` says so; line numbers stay those of the whole log). Lines reporting a
passed or skipped test are ignored, so a test named ``test_timeout`` is no evidence.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from imperium.agents.conquest.advice import ADVICE, Findings
from imperium.agents.conquest.evidence import Hit, find_hits, last_exit_code, prepare
from imperium.agents.conquest.rules import Category

EVIDENCE_CHARS = 400
REPEAT_CAP = 3
DECISIVE_SCORE = 4.0
SYMPTOM_DISCOUNT = 0.5


@dataclass(frozen=True, slots=True)
class Evidence:
    line_no: int  # 1-based, in the whole log (also when only its tail was analysed)
    text: str
    rule: str


@dataclass(frozen=True, slots=True)
class Diagnosis:
    category: Category
    confidence: float
    evidence: list[Evidence]
    summary: str
    recommendations: list[str]
    other_categories: list[tuple[Category, float]]
    lines_total: int = 0
    lines_analysed: int = 0
    exit_code: int | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "category": self.category.value,
            "confidence": self.confidence,
            "summary": self.summary,
            "evidence": [
                {"line_no": e.line_no, "text": e.text, "rule": e.rule} for e in self.evidence
            ],
            "recommendations": list(self.recommendations),
            "other_categories": [
                {"category": c.value, "score": s} for c, s in self.other_categories
            ],
            "lines_total": self.lines_total,
            "lines_analysed": self.lines_analysed,
            "exit_code": self.exit_code,
            "notes": list(self.notes),
        }


_SYMPTOM_OF = {
    "pip_no_matching_distribution": Category.NETWORK,
    "pip_no_version": Category.NETWORK,
}


def score(hits: list[Hit]) -> dict[Category, float]:
    """Each category's evidence: rule weight times matching lines (at most REPEAT_CAP)."""
    rules = {hit.rule.name: hit.rule for hit in hits}
    counts = Counter(hit.rule.name for hit in hits)
    contribution = {name: rules[name].weight * min(n, REPEAT_CAP) for name, n in counts.items()}
    totals: dict[Category, float] = {}
    for name, value in contribution.items():
        totals[rules[name].category] = totals.get(rules[name].category, 0.0) + value
    for name, cause in _SYMPTOM_OF.items():
        if name in contribution and totals.get(cause, 0.0) >= DECISIVE_SCORE:
            totals[rules[name].category] -= contribution[name] * (1 - SYMPTOM_DISCOUNT)
    return totals


def decide(scores: dict[Category, float], hits: list[Hit]) -> Category:
    failures: dict[Category, float] = {
        c: s for c, s in scores.items() if c is not Category.NONE and s > 0
    }
    success = scores.get(Category.NONE, 0.0)
    order = list(Category)

    def strength(category: Category) -> tuple[float, float, int]:
        heaviest = max(h.rule.weight for h in hits if h.rule.category is category)
        return failures[category], heaviest, -order.index(category)

    if failures:
        best = max(failures, key=strength)
        if failures[best] >= DECISIVE_SCORE or success == 0:
            return best
    return Category.NONE if success > 0 else Category.UNKNOWN


def _cut(text: str) -> str:
    return text if len(text) <= EVIDENCE_CHARS else text[: EVIDENCE_CHARS - 1] + "…"


def classify(log: str, *, max_evidence: int = 5) -> Diagnosis:
    """Diagnose ``log``, the output of a build, test run or job (see the module docstring)."""
    if max_evidence < 1:
        raise ValueError("max_evidence must be at least 1")
    lines = prepare(log)
    hits = find_hits(lines)
    scores = score(hits)
    category = decide(scores, hits)
    total = sum(scores.values())
    share = scores.get(category, 0.0) / total if total > 0 else 0.0
    confidence = round(min(1.0, max(0.0, share)), 3)
    mine = sorted(
        (h for h in hits if h.rule.category is category), key=lambda h: (-h.rule.weight, h.line_no)
    )
    notes = []
    if lines.total > len(lines.lines):
        notes.append(
            f"analysed the last {len(lines.lines)} of {lines.total} lines; "
            "anything earlier in the log was not considered"
        )
    findings = Findings(category, hits, lines, last_exit_code(lines))
    return Diagnosis(
        category=category,
        confidence=confidence,
        evidence=[Evidence(h.line_no, _cut(h.text), h.rule.name) for h in mine[:max_evidence]],
        summary=_summary(findings, mine, confidence),
        recommendations=ADVICE[category](findings),
        other_categories=sorted(
            ((c, round(s, 2)) for c, s in scores.items() if c is not category and s > 0),
            key=lambda item: -item[1],
        ),
        lines_total=lines.total,
        lines_analysed=len(lines.lines),
        exit_code=findings.exit_code,
        notes=notes,
    )


def _summary(f: Findings, mine: list[Hit], confidence: float) -> str:
    if f.category is Category.UNKNOWN:
        return f"No known failure pattern in {len(f.lines.lines)} analysed lines."
    first = mine[0]
    if f.category is Category.NONE:
        return f"No failure: the log reports success (line {first.line_no}: {first.text})."
    label = f.category.value.replace("_", " ")
    return f"{label} (confidence {confidence:.2f}): {first.text} (line {first.line_no})"
