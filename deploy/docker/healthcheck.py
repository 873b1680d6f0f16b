"""Health probe for Imperium's image, with the standard library only (slim has no curl).

    python healthcheck.py [URL]            exit 0 when /api/health answers 200
    python healthcheck.py --alive [URL]    exit 0 when the process is alive: /api/health
                                           answers at all (a 503 while the database is
                                           away: the server rides that out), or nothing
                                           listens yet (`serve --standby` opens its port
                                           only once it holds the scheduler lock)

The first is a readiness check (send traffic here); the second a liveness check (do not
restart a standby, nor a server waiting for its database). A port that accepts but does
not answer within 5 s fails both.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request

DEFAULT_URL = "http://127.0.0.1:8000/api/health"


def probe(url: str, *, alive: bool) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return 0 if response.status == 200 else 1
    except urllib.error.HTTPError:  # it answered, with an error status
        return 0 if alive else 1
    except urllib.error.URLError as exc:
        refused = isinstance(exc.reason, ConnectionRefusedError)
        return 0 if alive and refused else 1
    except OSError:  # a timeout or a reset
        return 1


def main(argv: list[str]) -> int:
    alive = "--alive" in argv
    urls = [a for a in argv if a != "--alive"]
    return probe(urls[0] if urls else DEFAULT_URL, alive=alive)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
