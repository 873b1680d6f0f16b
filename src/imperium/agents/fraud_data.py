"""A generator of card transactions with injected fraud and known labels.

No public labelled set small enough to ship was at hand, so detection is measured on data
made here (``imperium fraud generate``); figures from it say so. Train on real data with
``imperium fraud train FILE`` and a CSV of the same columns.

Columns: ``transaction_id``, ``timestamp`` (ISO 8601, UTC), ``account_id``, ``amount``,
``merchant_category``, ``is_fraud`` (0/1) and ``pattern`` (what was injected, or
``normal``; the trainer ignores it).

Normal behaviour. Each account has a typical amount (log-normal: median e^N(3.4, 0.6),
spread 0.4-0.9), two to four usual merchant categories with weights, an active window of
hours around a personal centre, and a rate of 0.3 to 3 transactions a day; one account in
five also uses a category fraud favours (online services, digital goods, jewelry,
gambling, crypto exchange, money transfer...). Legitimate noise looks odd on purpose: a
large purchase (4-15x) in travel, electronics, home or jewelry (0.6%), a first purchase in
any other category (0.6%), a night-time purchase (1.5%).

Injected fraud, each on a random account at a random time:

- ``card_testing``: 4 to 12 small charges (0.5 to 5) within 30 minutes, online categories;
- ``account_takeover``: 2 to 6 charges 5 to 20 times the account's typical amount within
  three hours, at night (0-5 h), in categories the account never used;
- ``unusual_amount``: one charge 12 to 40 times the typical amount, in a usual category;
- ``category_change``: one charge about three times the typical amount in a category the
  account never used (gambling, crypto exchange, money transfer), at an odd hour.
"""

from __future__ import annotations

import csv
import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

CATEGORIES = (
    "grocery", "restaurant", "fuel", "pharmacy", "clothing", "utilities", "transport",
    "entertainment", "home", "electronics", "travel", "online_services", "digital_goods",
    "jewelry", "gambling", "crypto_exchange", "money_transfer",
)  # fmt: skip
EVERYDAY = CATEGORIES[:9]
TAKEOVER = ("electronics", "jewelry", "money_transfer", "crypto_exchange")
SWITCH = ("gambling", "crypto_exchange", "money_transfer")
COLUMNS = ("transaction_id", "timestamp", "account_id", "amount", "merchant_category",
           "is_fraud", "pattern")  # fmt: skip
DAY = 86_400.0
START = datetime(2026, 1, 1, tzinfo=UTC).timestamp()


@dataclass(frozen=True)
class _Person:
    mu: float
    sigma: float
    usual: list[str]
    weights: list[float]
    centre: float
    rate: float


def _account(rng: random.Random) -> _Person:
    usual = rng.sample(EVERYDAY, rng.randint(2, 4))
    if rng.random() < 0.2:  # some people do use the categories fraud likes
        usual.append(rng.choice(CATEGORIES[9:]))
    return _Person(
        mu=rng.gauss(3.4, 0.6),
        sigma=rng.uniform(0.4, 0.9),
        usual=usual,
        weights=[rng.random() + 0.2 for _ in usual],
        centre=rng.uniform(9, 20),
        rate=rng.uniform(0.3, 3.0),
    )


def _at(day_start: float, hour: float) -> float:
    return day_start + (hour % 24) * 3600.0


def generate(
    accounts: int = 400, days: int = 90, fraud_events: int = 120, seed: int = 0
) -> list[dict[str, object]]:
    """Rows sorted by time; ``fraud_events`` injected patterns, spread over the period."""
    rng = random.Random(seed)
    people = [_account(rng) for _ in range(accounts)]
    rows: list[tuple[float, str, float, str, int, str]] = []
    for i, p in enumerate(people):
        acct = f"A{i:05d}"
        for d in range(days):
            day = START + d * DAY
            for _ in range(_poisson(rng, p.rate)):
                hour = rng.gauss(p.centre, 2.5)
                amount = math.exp(rng.gauss(p.mu, p.sigma))
                category = rng.choices(p.usual, p.weights)[0]
                odd = rng.random()
                if odd < 0.006:  # legitimate but unusual: a large purchase
                    category = rng.choice(("travel", "electronics", "home", "jewelry"))
                    amount *= rng.uniform(4, 15)
                elif odd < 0.012:  # a first try of another category
                    category = rng.choice(CATEGORIES)
                    amount *= rng.uniform(1, 4)
                if rng.random() < 0.015:
                    hour = rng.uniform(0, 5)
                rows.append((_at(day, hour), acct, amount, category, 0, "normal"))
    patterns = ("card_testing", "account_takeover", "unusual_amount", "category_change")
    for n in range(fraud_events):
        i = rng.randrange(accounts)
        p, acct = people[i], f"A{i:05d}"
        when = START + rng.uniform(0.15, 1.0) * days * DAY  # after some history
        typical = math.exp(p.mu)
        kind = patterns[n % len(patterns)]
        unused = [c for c in CATEGORIES if c not in p.usual]
        if kind == "card_testing":
            for _ in range(rng.randint(4, 12)):
                t = when + rng.uniform(0, 1800)
                cat = rng.choice(("online_services", "digital_goods"))
                rows.append((t, acct, rng.uniform(0.5, 5.0), cat, 1, kind))
        elif kind == "account_takeover":
            night = when - (when % DAY) + rng.uniform(0, 5) * 3600
            for _ in range(rng.randint(2, 6)):
                t = night + rng.uniform(0, 3 * 3600)
                cat = rng.choice([c for c in TAKEOVER if c in unused] or unused)
                rows.append((t, acct, typical * rng.uniform(5, 20), cat, 1, kind))
        elif kind == "unusual_amount":
            cat = rng.choices(p.usual, p.weights)[0]
            rows.append((when, acct, typical * rng.uniform(12, 40), cat, 1, kind))
        else:
            cat = rng.choice([c for c in SWITCH if c in unused] or unused)
            hour = rng.choice((rng.uniform(0, 6), rng.uniform(22, 24)))
            odd = when - (when % DAY) + hour * 3600
            rows.append((odd, acct, typical * rng.uniform(2, 4), cat, 1, kind))
    rows.sort()
    return [
        {
            "transaction_id": f"T{k:07d}",
            "timestamp": datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z"),
            "account_id": acct,
            "amount": round(amount, 2),
            "merchant_category": cat,
            "is_fraud": label,
            "pattern": kind,
        }
        for k, (t, acct, amount, cat, label, kind) in enumerate(rows)
    ]


def _poisson(rng: random.Random, lam: float) -> int:
    limit, k, prod = math.exp(-lam), 0, rng.random()
    while prod > limit:
        k += 1
        prod *= rng.random()
    return k


def write_csv(rows: list[dict[str, object]], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
