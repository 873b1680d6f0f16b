"""How long named things take, and whether that changed: duration samples per name.
Pure, stdlib only.

``analyse_timings`` summarises durations per name (count, mean, p50, p95, max), slowest
p50 first, and compares p50s with a baseline when one is given. Names with fewer than
``min_samples`` durations (on either side) get "too few samples" instead of a claim.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from imperium.domain.stats import percentile

MIN_SAMPLES = 5
SLOWER_RATIO = 1.2  # p50 ratios within [1/1.2, 1.2] are reported as unchanged


@dataclass(frozen=True, slots=True)
class BaselineComparison:
    baseline_count: int
    baseline_p50: float
    ratio: float | None  # current p50 / baseline p50; None with too few samples
    verdict: str  # "slower", "faster", "unchanged" or "too few samples"
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "baseline_count": self.baseline_count,
            "baseline_p50": self.baseline_p50,
            "ratio": self.ratio,
            "verdict": self.verdict,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class TimingStat:
    name: str
    count: int
    mean: float
    p50: float
    p95: float
    max: float
    total: float
    enough_samples: bool
    baseline: BaselineComparison | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "count": self.count,
            "mean": self.mean,
            "p50": self.p50,
            "p95": self.p95,
            "max": self.max,
            "total": self.total,
            "enough_samples": self.enough_samples,
            "baseline": self.baseline.to_dict() if self.baseline else None,
        }


@dataclass(frozen=True, slots=True)
class TimingReport:
    items: list[TimingStat]  # slowest p50 first
    min_samples: int
    regressions: list[str] = field(default_factory=list)
    improvements: list[str] = field(default_factory=list)
    too_few_samples: list[str] = field(default_factory=list)
    recommendations: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "items": [i.to_dict() for i in self.items],
            "min_samples": self.min_samples,
            "regressions": list(self.regressions),
            "improvements": list(self.improvements),
            "too_few_samples": list(self.too_few_samples),
            "recommendations": list(self.recommendations),
        }


Samples = Mapping[str, Sequence[float]] | Iterable[Mapping[str, Any]]


def group_samples(samples: Samples) -> dict[str, list[float]]:
    """``{name: [seconds, ...]}`` from either that mapping or ``[{name, seconds}, ...]``;
    ValueError for anything else, or a duration that is negative or not a finite number."""
    grouped: dict[str, list[float]] = {}
    if isinstance(samples, Mapping):
        pairs = [(name, value) for name, values in samples.items() for value in _seq(name, values)]
    else:
        pairs = [_pair(sample) for sample in samples]
    for name, value in pairs:
        grouped.setdefault(str(name), []).append(_seconds(name, value))
    return grouped


def _seq(name: object, values: object) -> Sequence[object]:
    if isinstance(values, str | bytes) or not isinstance(values, Sequence):
        raise ValueError(f"timings for {name!r} must be a list of seconds")
    return values


def _pair(sample: object) -> tuple[object, object]:
    if not isinstance(sample, Mapping) or "name" not in sample or "seconds" not in sample:
        raise ValueError(f"each sample needs 'name' and 'seconds', got {sample!r}")
    return sample["name"], sample["seconds"]


def _seconds(name: object, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"duration for {name!r} is not a number: {value!r}")
    seconds = float(value)
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"duration for {name!r} must be finite and >= 0, got {value!r}")
    return seconds


def _stat(name: str, values: list[float], min_samples: int) -> TimingStat:
    ordered = sorted(values)
    return TimingStat(
        name=name,
        count=len(ordered),
        mean=sum(ordered) / len(ordered),
        p50=percentile(ordered, 50),
        p95=percentile(ordered, 95),
        max=ordered[-1],
        total=sum(ordered),
        enough_samples=len(ordered) >= min_samples,
    )


def _compare(current: TimingStat, base: list[float], min_samples: int) -> BaselineComparison:
    ordered = sorted(base)
    base_p50 = percentile(ordered, 50)
    if current.count < min_samples or len(ordered) < min_samples:
        return BaselineComparison(
            len(ordered),
            base_p50,
            None,
            "too few samples",
            f"too few samples to compare (n={current.count} now, n={len(ordered)} in the "
            f"baseline; need {min_samples} each)",
        )
    if base_p50 <= 0:  # a ratio to zero is meaningless (and not JSON): say it plainly
        slower = current.p50 > 0
        return BaselineComparison(
            len(ordered),
            base_p50,
            None,
            "slower" if slower else "unchanged",
            f"p50 {current.p50:.3f} s vs 0 s in the baseline "
            f"(n={current.count} now, n={len(ordered)} in the baseline)",
        )
    ratio = current.p50 / base_p50
    if ratio >= SLOWER_RATIO:
        verdict, how = "slower", f"slower than baseline by {ratio:.1f}x"
    elif ratio <= 1 / SLOWER_RATIO:
        verdict, how = "faster", f"faster than baseline by {1 / ratio:.1f}x"
    else:
        verdict, how = "unchanged", f"about the same as baseline ({ratio:.2f}x)"
    message = (
        f"p50 {current.p50:.3f} s vs {base_p50:.3f} s: {how} "
        f"(n={current.count} now, n={len(ordered)} in the baseline)"
    )
    return BaselineComparison(len(ordered), base_p50, round(ratio, 3), verdict, message)


def analyse_timings(
    samples: Samples, baseline: Samples | None = None, *, min_samples: int = MIN_SAMPLES
) -> TimingReport:
    """Summarise durations per name, slowest p50 first, against ``baseline`` if given."""
    if min_samples < 1:
        raise ValueError("min_samples must be at least 1")
    grouped = group_samples(samples)
    base = group_samples(baseline) if baseline is not None else {}
    items = []
    for name, values in grouped.items():
        stat = _stat(name, values, min_samples)
        if base.get(name):
            comparison = _compare(stat, base[name], min_samples)
            stat = replace(stat, baseline=comparison)
        items.append(stat)
    items.sort(key=lambda s: (-s.p50, -s.mean, s.name))
    return TimingReport(
        items=items,
        min_samples=min_samples,
        regressions=[s.name for s in items if s.baseline and s.baseline.verdict == "slower"],
        improvements=[s.name for s in items if s.baseline and s.baseline.verdict == "faster"],
        too_few_samples=[s.name for s in items if not s.enough_samples],
        recommendations=_timing_advice(items, min_samples, has_baseline=baseline is not None),
    )


def _timing_advice(items: list[TimingStat], min_samples: int, *, has_baseline: bool) -> list[str]:
    if not items:
        return ["No durations received: nothing to analyse for this period."]
    out = []
    for s in items:
        if s.baseline and s.baseline.verdict == "slower":
            out.append(
                f"{s.name}: {s.baseline.message}. Look at what changed in this period "
                "(deploys, agent version, input sizes, load) for this task type."
            )
    for s in items:
        if s.enough_samples and s.p50 > 0 and s.p95 >= 3 * s.p50:
            out.append(
                f"{s.name}: p95 {s.p95:.3f} s is {s.p95 / s.p50:.1f}x its p50 {s.p50:.3f} s "
                f"(n={s.count}): a minority of runs is much slower (retries, cold starts, "
                "large inputs, contention); look at those runs, not the average."
            )
    few = [f"{s.name} (n={s.count})" for s in items if not s.enough_samples]
    if few:
        out.append(
            f"Too few samples for a claim about {', '.join(few)}: need at least {min_samples}."
        )
    slowest = next((s for s in items if s.enough_samples), None)
    if slowest is not None and not out:
        compared = " and nothing is slower than the baseline" if has_baseline else ""
        out.append(
            f"Slowest: {slowest.name} (p50 {slowest.p50:.3f} s, n={slowest.count}){compared}."
        )
    return out
