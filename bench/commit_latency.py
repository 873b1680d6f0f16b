"""What a group commit costs however little it holds: tasks submitted one at a time, each
run and recorded before the next; prints one JSON line.

    python bench/commit_latency.py [--tasks 400] [--database URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json

from imperium.benchmarks.throughput import run_commit_latency
from imperium.runtime import tune_gc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=400)
    parser.add_argument("--database", default=None, help="default: a temporary SQLite file")
    args = parser.parse_args()
    tune_gc()
    print(json.dumps(asyncio.run(run_commit_latency(args.tasks, args.database))), flush=True)


if __name__ == "__main__":
    main()
