"""The report as one self-contained HTML document (inline CSS and SVG charts: no script,
no font or file from elsewhere, so it reads the same in a mail client, a browser and a
PDF), and as plain text for the mail's text part."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from html import escape

from imperium.domain.reports import DAY, AgentRow, Rate, Report
from imperium.domain.stats import wilson_interval

GREEN, RED, GREY, INK = "#2e7d32", "#c62828", "#9e9e9e", "#212121"

CSS = """
body{font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;color:#212121;
margin:24px;max-width:960px}
h1{font-size:22px;margin-bottom:4px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid
#ddd;padding-bottom:4px}
table{border-collapse:collapse;margin:8px 0;font-size:13px}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}
.muted{color:#666;font-size:13px}.note{color:#8a6d3b}
svg text{font-family:inherit;font-size:11px}
"""


def when(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def interval_text(rate: Rate) -> str:
    interval = rate.interval
    return "-" if interval is None else f"{interval[0]:.1%} - {interval[1]:.1%}"


def render_html(report: Report, title: str = "Imperium weekly report") -> str:
    r = report
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f"<p class='muted'>{when(r.since)} to {when(r.until)} ({r.period_days:g} days); "
        f"generated {when(r.generated_at)}. Intervals are 95% Wilson intervals of the "
        "success rate over counted attempts (succeeded, failed, timed out or lost).</p>",
    ]
    if r.notes:
        items = "".join(f"<li>{escape(n)}</li>" for n in r.notes)
        parts.append(f"<ul class='note'>{items}</ul>")
    parts += _throughput(r)
    parts += _by_type(r)
    parts += _agents(r)
    parts += _cost(r)
    parts += _feedback(r)
    parts += _drift(r)
    parts += _insights(r)
    parts.append("</body></html>")
    return "".join(parts)


def _table(head: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    th = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _throughput(r: Report) -> list[str]:
    overall = r.counted
    attempts = sum(r.attempts_by_outcome.values())
    out = [
        "<h2 id='throughput'>Throughput</h2>",
        f"<p>{attempts} attempts finished; {overall.succeeded} of {overall.attempts} counted "
        f"succeeded ({pct(overall.rate)}, interval {interval_text(overall)}).</p>",
    ]
    if r.tasks_ended:
        out.append(_table(["Tasks ended", "count"], sorted(r.tasks_ended.items())))
    if r.attempts_by_outcome:
        out.append(_table(["Attempts by outcome", "count"], sorted(r.attempts_by_outcome.items())))
    out.append(day_chart(r.per_day))
    return out


def _by_type(r: Report) -> list[str]:
    out = ["<h2 id='types'>Success per task type</h2>"]
    if not r.by_type:
        return [*out, "<p class='muted'>No counted attempt in this period.</p>"]
    rows = sorted(r.by_type.items(), key=lambda kv: (-kv[1].attempts, kv[0]))
    out.append(rate_chart([(t, rate) for t, rate in rows[:25]]))
    out.append(
        _table(
            ["Task type", "attempts", "succeeded", "success", "95% interval"],
            [(t, x.attempts, x.succeeded, pct(x.rate), interval_text(x)) for t, x in rows],
        )
    )
    return out


def _agent_rows(rows: Sequence[AgentRow]) -> list[tuple[object, ...]]:
    return [
        (a.agent_id, a.rate.attempts, a.rate.succeeded, pct(a.rate.rate), interval_text(a.rate))
        for a in rows
    ]


def _agents(r: Report) -> list[str]:
    head = ["Agent", "attempts", "succeeded", "success", "95% interval"]
    out = [
        "<h2 id='agents'>Best and worst agents</h2>",
        f"<p class='muted'>Ranked among agents with at least {r.min_attempts} counted "
        "attempts: the best by the lower bound of their interval, the worst by the upper "
        "bound (so a short lucky or unlucky run does not decide).</p>",
    ]
    if r.best:
        out += ["<h3>Best</h3>", rate_chart([(a.agent_id, a.rate) for a in r.best]),
                _table(head, _agent_rows(r.best))]  # fmt: skip
    if r.worst:
        out += ["<h3>Worst</h3>", rate_chart([(a.agent_id, a.rate) for a in r.worst]),
                _table(head, _agent_rows(r.worst))]  # fmt: skip
    if not r.best and not r.worst:
        out.append("<p class='muted'>No agent is ranked in this period.</p>")
    if r.unranked:
        out.append(
            f"<p class='muted'>Too few attempts to rank: {escape(', '.join(r.unranked))}.</p>"
        )
    if r.agents:
        out += ["<h3>All agents</h3>", _table(head, _agent_rows(r.agents))]
    return out


def _cost(r: Report) -> list[str]:
    out = ["<h2 id='cost'>Cost</h2>"]
    if r.tokens is None and r.cost is None:
        return [*out, "<p>No cost recorded: no attempt in this period recorded tokens or cost.</p>"]
    out.append(
        f"<p>Tokens: {r.tokens if r.tokens is not None else 'none recorded'}; cost: "
        f"{f'{r.cost:.4f}' if r.cost is not None else 'none recorded'}.</p>"
    )
    spent = [a for a in r.agents if a.tokens is not None or a.cost is not None]
    out.append(
        _table(
            ["Agent", "tokens", "cost"],
            [(a.agent_id, a.tokens if a.tokens is not None else "-",
              f"{a.cost:.4f}" if a.cost is not None else "-") for a in spent],
        )
    )  # fmt: skip
    return out


def _feedback(r: Report) -> list[str]:
    out = ["<h2 id='feedback'>User feedback</h2>"]
    if not r.feedback:
        return [*out, "<p class='muted'>Nobody rated a result in this period.</p>"]
    out.append(f"<p>{r.ratings} ratings (a rating of 0.5 or more is positive).</p>")
    rows = []
    for f in r.feedback:
        low, high = wilson_interval(f.positive, f.ratings)
        rows.append((f.agent_id, f.ratings, f.positive, pct(f.positive / f.ratings),
                     f"{low:.1%} - {high:.1%}", f"{f.mean_score:.2f}"))  # fmt: skip
    out.append(
        _table(["Agent", "ratings", "positive", "share", "95% interval", "mean score"], rows)
    )
    return out


def _drift(r: Report) -> list[str]:
    out = ["<h2 id='drift'>Drift alarms</h2>"]
    if not r.drift:
        return [*out, "<p class='muted'>No drift alarm in this period.</p>"]
    out.append(
        _table(
            ["Agent", "task type", "when", "before", "recent", "direction"],
            [(d.agent_id, d.task_type, when(d.at), pct(d.before_rate), pct(d.recent_rate),
              d.direction or "-") for d in r.drift],
        )
    )  # fmt: skip
    return out


def _insights(r: Report) -> list[str]:
    out = ["<h2 id='insights'>Insights</h2>"]
    total = sum(r.cycles.values())
    if total:
        cycles = ", ".join(f"{n} {status}" for status, n in sorted(r.cycles.items()))
        out.append(f"<p>Learning cycles started in this period: {cycles}.</p>")
    if not r.insights:
        return [*out, "<p class='muted'>No learning cycle stored insights in this period.</p>"]
    out.append(
        _table(
            ["Insight", "type", "confidence", "sample"],
            [(i.description, str(i.insight_type), pct(i.confidence), i.sample_size)
             for i in r.insights],
        )
    )  # fmt: skip
    return out


# ---------------------------------------------------------------------------- charts
def day_chart(per_day: Sequence[tuple[int, int, int]], width: int = 640) -> str:
    """Stacked bars per UTC day: succeeded (green) under failed (red)."""
    if not per_day:
        return ""
    height, top, bottom, left = 160, 10, 30, 40
    peak = max((ok + bad for _, ok, bad in per_day), default=0) or 1
    slot = (width - left) / len(per_day)
    bar = max(2.0, slot * 0.7)
    scale = (height - top - bottom) / peak
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"role='img' aria-label='attempts per day'>",
        f"<text x='0' y='{top + 8}' fill='{GREY}'>{peak}</text>",
        f"<line x1='{left}' y1='{height - bottom}' x2='{width}' y2='{height - bottom}' "
        f"stroke='{GREY}'/>",
    ]
    for i, (day, ok, bad) in enumerate(per_day):
        x = left + i * slot + (slot - bar) / 2
        base = height - bottom
        h_ok, h_bad = ok * scale, bad * scale
        parts.append(
            f"<rect x='{x:.1f}' y='{base - h_ok:.1f}' width='{bar:.1f}' height='{h_ok:.1f}' "
            f"fill='{GREEN}'><title>{ok} succeeded</title></rect>"
        )
        parts.append(
            f"<rect x='{x:.1f}' y='{base - h_ok - h_bad:.1f}' width='{bar:.1f}' "
            f"height='{h_bad:.1f}' fill='{RED}'><title>{bad} failed</title></rect>"
        )
        label = dt.datetime.fromtimestamp(day * DAY, dt.UTC).strftime("%m-%d")
        parts.append(
            f"<text x='{x + bar / 2:.1f}' y='{height - bottom + 14}' text-anchor='middle' "
            f"fill='{INK}'>{label}</text>"
        )
    parts.append("</svg>")
    legend = (
        f"<p class='muted'><span style='color:{GREEN}'>■</span> succeeded "
        f"<span style='color:{RED}'>■</span> failed, timed out or lost</p>"
    )
    return "".join(parts) + legend


def rate_chart(rows: Sequence[tuple[str, Rate]], width: int = 640) -> str:
    """Horizontal bars of success rates, each with its 95% interval as a whisker."""
    rows = [(name, rate) for name, rate in rows if rate.rate is not None]
    if not rows:
        return ""
    label_w, row_h, pad = 180, 20, 4
    plot = width - label_w - 50
    height = row_h * len(rows) + 18
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"role='img' aria-label='success rates with 95% intervals'>"
    ]
    for i, (name, rate) in enumerate(rows):
        y = i * row_h
        value = rate.rate or 0.0
        low, high = rate.interval or (0.0, 1.0)
        shown = name if len(name) <= 28 else name[:27] + "…"
        parts.append(
            f"<text x='{label_w - 6}' y='{y + row_h - 7}' text-anchor='end' fill='{INK}'>"
            f"{escape(shown)}</text>"
        )
        parts.append(
            f"<rect x='{label_w}' y='{y + pad}' width='{value * plot:.1f}' "
            f"height='{row_h - 2 * pad}' fill='{GREEN}' opacity='0.75'>"
            f"<title>{escape(name)}: {value:.1%} of {rate.attempts}</title></rect>"
        )
        mid = y + row_h / 2
        parts.append(
            f"<line x1='{label_w + low * plot:.1f}' y1='{mid}' x2='{label_w + high * plot:.1f}' "
            f"y2='{mid}' stroke='{INK}' stroke-width='1.5'/>"
        )
        parts.append(
            f"<text x='{label_w + plot + 6}' y='{y + row_h - 7}' fill='{INK}'>{value:.0%}</text>"
        )
    axis_y = row_h * len(rows) + 12
    for tick in (0.0, 0.5, 1.0):
        parts.append(
            f"<text x='{label_w + tick * plot:.1f}' y='{axis_y}' text-anchor='middle' "
            f"fill='{GREY}'>{tick:.0%}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


# ---------------------------------------------------------------------------- text
def render_text(report: Report, title: str = "Imperium weekly report") -> str:
    """The report's main figures as plain text (the mail's text part)."""
    r = report
    overall = r.counted
    lines = [
        title,
        f"{when(r.since)} to {when(r.until)} ({r.period_days:g} days)",
        "",
        f"Attempts finished: {sum(r.attempts_by_outcome.values())}; counted "
        f"{overall.attempts}, succeeded {overall.succeeded} ({pct(overall.rate)}, 95% "
        f"interval {interval_text(overall)})",
        "Tasks ended: " + (", ".join(f"{k} {v}" for k, v in sorted(r.tasks_ended.items()))
                           or "none"),
        "",
        "Success per task type:",
        *(f"  {t}: {pct(x.rate)} of {x.attempts} ({interval_text(x)})"
          for t, x in sorted(r.by_type.items())),
        "Best agents: " + ("; ".join(f"{a.agent_id} {pct(a.rate.rate)} ({interval_text(a.rate)})"
                                     for a in r.best) or "none ranked"),
        "Worst agents: " + ("; ".join(f"{a.agent_id} {pct(a.rate.rate)} "
                                      f"({interval_text(a.rate)})" for a in r.worst)
                            or "none ranked"),
        f"Drift alarms: {len(r.drift)}; ratings: {r.ratings}",
        "Cost: " + ("no cost recorded" if r.tokens is None and r.cost is None
                    else f"tokens {r.tokens}, cost {r.cost}"),
    ]  # fmt: skip
    if r.notes:
        lines += ["", "Notes:", *(f"  - {n}" for n in r.notes)]
    return "\n".join(lines) + "\n"
