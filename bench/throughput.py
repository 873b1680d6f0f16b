"""End-to-end throughput benchmark; prints one JSON object.

    python bench/throughput.py --tasks 20000 [--database URL]

The same code runs behind `imperium bench throughput`.
"""

from __future__ import annotations

import argparse
import asyncio
import json

from imperium.benchmarks.throughput import ThroughputConfig, run_throughput
from imperium.runtime import tune_gc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--database", default=None, help="default: a temporary SQLite file")
    parser.add_argument("--concurrency", type=int, default=4_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--synchronous", default="NORMAL", choices=["NORMAL", "FULL"])
    args = parser.parse_args()
    tune_gc()
    cfg = ThroughputConfig(
        args.tasks, args.database, args.concurrency, args.batch, 4, args.synchronous
    )
    print(json.dumps(asyncio.run(run_throughput(cfg))))


if __name__ == "__main__":
    main()
