"""``MemoryReportStore``: the report's figures over a period, from a ``MemoryState``."""

from __future__ import annotations

import math

from imperium.adapters.storage.memory._state import MemoryArea
from imperium.adapters.storage.reports import ENDED_EVENTS, drift_record
from imperium.domain.reports import DAY, DRIFT_EVENT, AttemptCount, PeriodFigures, RatingCount


class MemoryReportStore(MemoryArea):
    async def period_figures(self, since: float, until: float) -> PeriodFigures:
        s = self.state
        groups: dict[tuple[int, str, str | None, str], list[float]] = {}
        for e in s.executions.values():
            if since <= e.finished_at < until:
                key = (math.floor(e.finished_at / DAY), e.task_type, e.agent_id, str(e.outcome))
                g = groups.setdefault(key, [0, 0, 0, 0.0, 0])
                g[0] += 1
                if e.tokens is not None:
                    g[1], g[2] = g[1] + e.tokens, g[2] + 1
                if e.cost is not None:
                    g[3], g[4] = g[3] + e.cost, g[4] + 1
        attempts = tuple(
            AttemptCount(day, task_type, agent_id, outcome, int(n), int(tok), int(tr), cost,
                         int(cr))
            for (day, task_type, agent_id, outcome), (n, tok, tr, cost, cr) in groups.items()
        )  # fmt: skip
        in_period = [ev for ev in s.events if since <= ev.created_at < until]
        ended: dict[str, int] = {}
        for ev in in_period:
            if ev.event_type in ENDED_EVENTS:
                state = ev.event_type.removeprefix("task.")
                ended[state] = ended.get(state, 0) + 1
        ratings: dict[tuple[str, str], list[float]] = {}
        for f in s.feedback:
            if since <= f.created_at < until:
                r = ratings.setdefault((f.agent_id, f.task_type), [0, 0, 0.0])
                r[0], r[1], r[2] = r[0] + 1, r[1] + f.positive, r[2] + f.score
        cycles: dict[str, int] = {}
        for c in s.cycles.values():
            if since <= c.start_time < until:
                cycles[str(c.status)] = cycles.get(str(c.status), 0) + 1
        return PeriodFigures(
            since=since,
            until=until,
            attempts=attempts,
            tasks_ended=ended,
            ratings=tuple(
                RatingCount(agent_id, task_type, int(n), int(pos), total)
                for (agent_id, task_type), (n, pos, total) in ratings.items()
            ),
            drift=tuple(
                drift_record(ev.agent_id, ev.data, ev.created_at)
                for ev in in_period
                if ev.event_type == DRIFT_EVENT
            ),
            cycles=cycles,
        )
