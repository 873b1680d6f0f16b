"""What is slow in a cProfile profile. Stdlib only; reads the ``.prof`` file it is given.

``analyse_profile`` reads a ``pstats.Stats`` (or a ``.prof`` file written by
``python -m cProfile -o``) and ranks functions by cumulative and by own time, each with its
share of the profile's total own time. Hotspots are functions whose own time is at least
``HOTSPOT_SHARE`` of the total. A hotspot called many times at a tiny cost per call is a
call-count problem (batch, cache, hoist out of the loop); one with large own time per call
is an algorithm problem; one that mostly waits (sleep, locks, sockets) is not CPU at all.
Duration samples are :mod:`.timings`.
"""

from __future__ import annotations

import os
import pstats
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

HOTSPOT_SHARE = 0.10
MANY_CALLS = 1_000
CHEAP_CALL_SECONDS = 50e-6
_WAITING = ("sleep", "acquire", "select", "poll", "recv", "wait", "accept", "connect")


class ProfileError(ValueError):
    """The input is not a readable cProfile profile."""


@dataclass(frozen=True, slots=True)
class FunctionStat:
    function: str  # "file:line(name)" as pstats prints it; "{built-in ...}" for C code
    calls: int
    primitive_calls: int
    own_seconds: float
    cumulative_seconds: float
    own_share: float  # of the profile's total own time, in [0, 1]
    cumulative_share: float  # may exceed 1 only for recursion counted twice; clamped

    @property
    def per_call_seconds(self) -> float:
        return self.own_seconds / self.calls if self.calls else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "function": self.function,
            "calls": self.calls,
            "primitive_calls": self.primitive_calls,
            "own_seconds": self.own_seconds,
            "cumulative_seconds": self.cumulative_seconds,
            "own_share": self.own_share,
            "cumulative_share": self.cumulative_share,
            "per_call_seconds": self.per_call_seconds,
        }


@dataclass(frozen=True, slots=True)
class ProfileReport:
    total_seconds: float
    total_calls: int
    function_count: int
    top_cumulative: list[FunctionStat]
    top_own: list[FunctionStat]
    hotspots: list[FunctionStat]
    recommendations: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "total_seconds": self.total_seconds,
            "total_calls": self.total_calls,
            "function_count": self.function_count,
            "top_cumulative": [f.to_dict() for f in self.top_cumulative],
            "top_own": [f.to_dict() for f in self.top_own],
            "hotspots": [f.to_dict() for f in self.hotspots],
            "recommendations": list(self.recommendations),
        }


def _label(key: tuple[str, int, str]) -> str:
    """As pstats prints it: "file:line(name)", or "{built-in method time.sleep}" for C."""
    return str(pstats.func_std_string(key))  # type: ignore[attr-defined]


_Entry = tuple[int, int, float, float, Mapping[tuple[str, int, str], tuple[Any, ...]]]
_UNREADABLE = (OSError, EOFError, ValueError, TypeError, AttributeError, KeyError, IndexError)


def load_stats(source: pstats.Stats | str | os.PathLike[str]) -> pstats.Stats:
    """A ``pstats.Stats`` from a ``.prof`` file (or as given). pstats reads the file with
    ``marshal``, which is not safe for untrusted input: only read profiles you produced."""
    if isinstance(source, pstats.Stats):
        return source
    try:
        return pstats.Stats(os.fspath(source))
    except _UNREADABLE as exc:
        raise ProfileError(f"cannot read a cProfile profile from {source!s}: {exc}") from exc


def _entries(stats: pstats.Stats) -> dict[tuple[str, int, str], _Entry]:
    raw = getattr(stats, "stats", None)
    if not isinstance(raw, dict):
        raise ProfileError("not a cProfile profile: no function table")
    entries: dict[tuple[str, int, str], _Entry] = {}
    for key, value in raw.items():
        try:
            filename, line, name = key
            cc, nc, tt, ct, callers = value
            entry = (int(cc), int(nc), float(tt), float(ct), dict(callers))
            label = (str(filename), int(line), str(name))
        except _UNREADABLE as exc:
            raise ProfileError(f"not a cProfile profile: bad entry {key!r}: {exc}") from exc
        if not _is_profiler_itself(label):
            entries[label] = entry
    return entries


def _is_profiler_itself(key: tuple[str, int, str]) -> bool:
    return "_lsprof.Profiler" in key[2]


def analyse_profile(
    source: pstats.Stats | str | os.PathLike[str], *, top: int = 10
) -> ProfileReport:
    """Rank the functions of a cProfile profile and say what to do about the hotspots."""
    if top < 1:
        raise ValueError("top must be at least 1")
    entries = _entries(load_stats(source))
    total = sum(entry[2] for entry in entries.values())
    functions = [
        FunctionStat(
            function=_label(key),
            calls=nc,
            primitive_calls=cc,
            own_seconds=tt,
            cumulative_seconds=ct,
            own_share=tt / total if total > 0 else 0.0,
            cumulative_share=min(1.0, ct / total) if total > 0 else 0.0,
        )
        for key, (cc, nc, tt, ct, _callers) in entries.items()
    ]
    by_own = sorted(functions, key=lambda f: (-f.own_seconds, f.function))
    by_cumulative = sorted(functions, key=lambda f: (-f.cumulative_seconds, f.function))
    hotspots = [f for f in by_own if f.own_share >= HOTSPOT_SHARE]
    callers = {_label(k): _main_caller(v) for k, v in entries.items()}
    return ProfileReport(
        total_seconds=total,
        total_calls=sum(f.calls for f in functions),
        function_count=len(functions),
        top_cumulative=by_cumulative[:top],
        top_own=by_own[:top],
        hotspots=hotspots,
        recommendations=[_advise(f, callers.get(f.function)) for f in hotspots]
        or [_no_hotspot(total, len(functions))],
    )


def _main_caller(entry: _Entry) -> str | None:
    callers = entry[4]
    if not callers:
        return None
    key = max(callers, key=lambda k: callers[k][1])  # the caller making the most calls
    return _label(key)


def _advise(f: FunctionStat, caller: str | None) -> str:
    share = f"{f.function} takes {f.own_share:.0%} of the run in its own code"
    name = f.function.lower()
    in_c_code = name.startswith("{")  # pstats' label for built-in functions and methods
    if in_c_code and any(word in name for word in _WAITING):
        return (
            f"{share}, waiting rather than computing ({f.calls} calls): overlap the waits "
            "(concurrency), wait less often, or remove the sleep."
        )
    if f.calls >= MANY_CALLS and f.per_call_seconds <= CHEAP_CALL_SECONDS:
        source = f" from {caller}" if caller else ""
        return (
            f"{share}: {f.calls:,} calls{source} at {f.per_call_seconds * 1e6:.2f} µs each; "
            "the cost is the number of calls: batch the work (one call over the whole "
            "input), cache results if it is pure, or inline it in the loop."
        )
    return (
        f"{share} ({f.calls:,} call{'s' if f.calls != 1 else ''}, "
        f"{f.per_call_seconds:.3f} s per call): the work inside it is what is slow; look "
        "at its algorithm (nested loops, a linear search inside a loop, e.g. `x in list` "
        "where a set or dict would do) before tuning details."
    )


def _no_hotspot(total: float, count: int) -> str:
    return (
        f"No function takes {HOTSPOT_SHARE:.0%} or more of the {total:.3f} s on its own "
        f"({count} functions): the time is spread out; look at the top cumulative entries "
        "for a phase worth restructuring."
    )
