"""Routines: periodic actions with their state for /api/status."""

from __future__ import annotations

import asyncio
import time

from imperium.services.routines import Routine, Routines


class Clock:
    def now(self) -> float:
        return time.time()


async def test_a_routine_runs_every_interval_and_a_failure_does_not_stop_it() -> None:
    calls: list[str] = []
    enough = asyncio.Event()

    def note(kind: str) -> None:
        calls.append(kind)
        if calls.count("ok") >= 3 and calls.count("broken") >= 2:
            enough.set()

    async def ok() -> dict[str, object]:
        note("ok")
        return {"status": "ok", "n": len(calls)}

    async def broken() -> dict[str, object]:
        note("broken")
        raise RuntimeError("disk on fire")

    routines = Routines(
        Clock(),
        [
            Routine("often", 0.01, ok, "runs often"),
            Routine("failing", 0.01, broken, "always fails"),
            Routine("off", 0.0, ok, "interval 0"),
            Routine("unconfigured", 0.01, ok, "nothing to do", off_reason="no paths configured"),
        ],
    )
    routines.start()
    try:
        async with asyncio.timeout(10):
            await enough.wait()
    finally:
        await routines.stop()

    state = {r["name"]: r for r in routines.snapshot()}
    assert state["often"]["last_status"] == "ok"
    assert state["often"]["runs"] >= 3
    assert state["failing"]["failures"] == state["failing"]["runs"] >= 2
    assert state["failing"]["last_status"] == "failed"
    assert state["failing"]["last_result"] == {"error": "RuntimeError: disk on fire"}
    assert (state["off"]["runs"], state["off"]["active"], state["off"]["off_reason"]) == (
        0, False, "interval is 0",
    )  # fmt: skip
    assert state["unconfigured"]["runs"] == 0
    assert state["unconfigured"]["off_reason"] == "no paths configured"
    assert state["unconfigured"]["next_run"] is None


async def test_the_first_run_waits_one_interval() -> None:
    ran: list[int] = []

    async def action() -> dict[str, object]:
        ran.append(1)
        return {}

    routines = Routines(Clock(), [Routine("hourly", 3600.0, action, "once an hour")])
    routines.start()
    await asyncio.sleep(0.05)
    await routines.stop()
    assert ran == []
    [state] = routines.snapshot()
    assert state["next_run"] is not None
    assert state["next_run"] > time.time() + 3500  # type: ignore[operator]


async def test_run_now_runs_even_an_inactive_routine() -> None:
    async def action() -> dict[str, object]:
        return {"status": "done"}

    routines = Routines(Clock(), [Routine("manual", 0.0, action, "on demand")])
    routine = await routines.run_now("manual")
    assert (routine.runs, routine.last_status) == (1, "done")


async def test_a_routine_added_after_start_runs_without_waiting_for_the_others() -> None:
    ran = asyncio.Event()

    async def action() -> dict[str, object]:
        ran.set()
        return {"status": "ok"}

    async def never() -> dict[str, object]:
        raise AssertionError("not due")

    routines = Routines(Clock(), [Routine("hourly", 3600.0, never, "once an hour")])
    routines.start()
    try:
        await asyncio.sleep(0.01)  # the loop sleeps towards the hourly run
        routines.add(Routine("often", 0.01, action, "runs often"))
        async with asyncio.timeout(5):
            await ran.wait()
    finally:
        await routines.stop()
    state = {r["name"]: r for r in routines.snapshot()}
    assert state["often"]["runs"] >= 1
    assert state["often"]["next_run"] is not None
