"""HTTP load benchmark against a real `imperium serve`; prints one JSON object.

    python bench/http_load.py --rate 500 --duration 10 [--connections 16] [--processes 2]
        [--database URL]

The same code runs behind `imperium bench http` (which uses 2 client processes).
"""

from __future__ import annotations

import argparse
import asyncio
import json

from imperium.benchmarks.http import HttpLoadConfig, run_http_load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=200.0, help="fixed-rate phase, req/s")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per phase")
    parser.add_argument("--connections", type=int, default=16, help="clients, max-rate phase")
    parser.add_argument("--database", default=None, help="default: a temporary SQLite file")
    parser.add_argument("--processes", type=int, default=2, help="load-generating processes")
    args = parser.parse_args()
    cfg = HttpLoadConfig(
        args.rate, args.duration, args.connections, args.database, max(1, args.processes)
    )
    print(json.dumps(asyncio.run(run_http_load(cfg))))


if __name__ == "__main__":
    main()
