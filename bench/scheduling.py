"""Scheduling cost per task with a backlog already queued; prints one JSON line per size.

    python bench/scheduling.py --queued 10000 100000 1000000

The same code runs behind `imperium bench scheduling`.
"""

from __future__ import annotations

import argparse
import asyncio
import json

from imperium.benchmarks.throughput import run_scheduling
from imperium.runtime import tune_gc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--queued", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--measured", type=int, default=20_000)
    parser.add_argument("--database", default=None, help="default: a temporary SQLite file")
    args = parser.parse_args()
    tune_gc()
    for queued in args.queued:
        result = asyncio.run(run_scheduling(queued, args.measured, args.database))
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
