"""Connecting the server to Ray without blocking its event loop.

``ray.init`` can block for a long time: with ``ray://`` and the head down, Ray Client
retries for about 30 s, longer than the scheduler lock's lease. So the connection is made
in a worker thread while the loop goes on renewing the lock; a failed one is tried again
later (1 s, then twice as long each time, at most a minute), when someone asks for it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from imperium.domain.errors import AgentLoadError
from imperium.extras import MissingExtraError, require

log = logging.getLogger(__name__)

FIRST_RETRY_SECONDS = 1.0
MAX_RETRY_SECONDS = 60.0


def connect_ray(address: str, num_cpus: int) -> Any:
    """The ``ray`` module, connected: ``local`` starts an instance on this machine with
    ``num_cpus`` CPUs, anything else (``auto``, ``ray://host:10001``) joins a cluster."""
    ray = require("ray", "an agent with runtime ray")
    if not ray.is_initialized():
        options: dict[str, Any] = {"log_to_driver": False, "configure_logging": False}
        options["address"] = address  # local: a new instance, even if `ray start` ran here
        if address == "local":
            options |= {"num_cpus": num_cpus, "include_dashboard": False}
        ray.init(**options)
    return ray


def retry_delay(failures: int) -> float:
    """Seconds before connecting again after ``failures`` failed tries in a row."""
    return min(FIRST_RETRY_SECONDS * 2.0 ** max(failures - 1, 0), MAX_RETRY_SECONDS)


class RayConnection:
    """The ``ray`` module once connected (``ray``), else why not (``reason``)."""

    def __init__(
        self,
        address: str,
        num_cpus: int,
        connect: Callable[[str, int], Any],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.address = address
        self.ray: Any = None
        self.reason = f"connecting to Ray at {address}"
        self.on_connected: Callable[[Any], None] = lambda ray: None
        self._num_cpus = num_cpus
        self._connect = connect
        self._clock = clock
        self._failures = 0
        self._retry_at = 0.0
        self._task: asyncio.Task[None] | None = None

    def ensure(self) -> Any:
        """The ``ray`` module if connected, else None after starting a connection in a
        thread (unless one is under way or the last failure's wait is not over). Without
        a running event loop (a synchronous caller) it connects here and now."""
        if self.ray is not None or self._task is not None or self._clock() < self._retry_at:
            return self.ray
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._connected(self._connect_checked())
            return self.ray
        self._task = loop.create_task(self._connect_in_thread())
        return None

    def _connect_checked(self) -> Any:
        try:
            return self._connect(self.address, self._num_cpus)
        except MissingExtraError as exc:
            raise AgentLoadError(str(exc)) from exc

    async def _connect_in_thread(self) -> None:
        try:
            ray = await asyncio.to_thread(self._connect_checked)
            self._connected(ray)
        except Exception as exc:
            self._failures += 1
            delay = retry_delay(self._failures)
            self._retry_at = self._clock() + delay
            first_line = (str(exc).strip() or type(exc).__name__).splitlines()[0][:300]
            self.reason = (
                f"cannot connect to Ray at {self.address}: {first_line}; "
                f"trying again in {delay:g} s"
            )
            log.warning("%s", self.reason)
        finally:
            self._task = None

    def _connected(self, ray: Any) -> None:
        self.ray = ray
        self._failures = 0
        self.on_connected(ray)

    async def wait(self) -> None:
        """Until the connection under way (if any) succeeded or failed."""
        if self._task is not None:
            await asyncio.shield(self._task)

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
