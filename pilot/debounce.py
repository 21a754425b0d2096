"""Debounced pushes, as istiod does (PILOT_DEBOUNCE_AFTER 100 ms quiet, PILOT_DEBOUNCE_MAX 10 s).

`Debouncer` is a pure state machine over an injected clock; `run_debounced` drives it with asyncio.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass
class Debouncer:
    after: float = 0.1
    max_delay: float = 10.0
    first_event: float | None = None
    last_event: float | None = None
    pending: set[object] = field(default_factory=set)

    def event(self, now: float, keys: set[object] | None = None) -> None:
        if self.first_event is None:
            self.first_event = now
        self.last_event = now
        self.pending |= keys or set()

    def deadline(self) -> float | None:
        """When the pending push should fire, or None when nothing is pending."""
        if self.first_event is None or self.last_event is None:
            return None
        return min(self.last_event + self.after, self.first_event + self.max_delay)

    def due(self, now: float) -> bool:
        d = self.deadline()
        return d is not None and now >= d

    def take(self) -> set[object]:
        keys, self.pending = self.pending, set()
        self.first_event = self.last_event = None
        return keys


class DebouncedRunner:
    """Coalesces events and runs `action(keys)` once things are quiet; one action runs at a time."""

    def __init__(self, action: Callable[[set[object]], Awaitable[None]], after: float = 0.1,
                 max_delay: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.state = Debouncer(after, max_delay)
        self.action = action
        self.clock = clock
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # When the first event of the batch being acted on arrived (the clock's time), for metrics.
        self.batch_started: float | None = None

    def event(self, keys: set[object] | None = None) -> None:
        self.state.event(self.clock(), keys)
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="debounced-push")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    async def _run(self) -> None:
        while True:
            deadline = self.state.deadline()
            if deadline is None:
                self._wake.clear()
                await self._wake.wait()
                continue
            delay = deadline - self.clock()
            if delay > 0:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=delay)
                except TimeoutError:
                    pass
                continue
            try:
                self.batch_started = self.state.first_event
                await self.action(self.state.take())
            except Exception:  # one failed push must not end all future pushes
                log.exception("debounced push failed")
