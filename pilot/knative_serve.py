"""Knative in `pilot serve`: the reconciler stage on the controller, a timer that rebuilds when a rollout
step is due (Knative's route controller re-enqueues itself for it), and in kube mode the writing of each
object's status subresource. The composition root (server_main) starts and stops it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from pilot.knative.reconciler import KnativeReconciler, ObjectStatus, report
from pilot.model.resource import ConfigKey, Resource
from pilot.push import MeshController

log = logging.getLogger(__name__)
ROLLOUT_TICK = "knative:rollout-step"
Trigger = Callable[[set[object]], None]
# write(kind, apiVersion, namespace, name, current status, new status) -> written
StatusWrite = Callable[[str, str, str, str, dict[str, Any], dict[str, Any]], bool]


class KnativeRuntime:
    def __init__(self, controller: MeshController, domain: str, write_status: StatusWrite | None = None,
                 clock: Callable[[], float] = time.monotonic, tick: float = 0.1) -> None:
        self.reconciler = KnativeReconciler(clock=clock, domain=domain)
        self.clock = clock
        self.tick = tick
        self.write_status = write_status
        self._pending: dict[ConfigKey, ObjectStatus] = {}
        self._written: dict[ConfigKey, dict[str, Any]] = {}
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        controller.stages.append(self._stage)

    def _stage(self, resources: list[Resource]) -> tuple[list[Resource], set[ConfigKey]]:
        out = self.reconciler(resources)
        if self.write_status is not None:
            for s in self.reconciler.statuses:
                if self._written.get(s.key) == s.current:
                    del self._written[s.key]  # the watch has brought our write back
                if s.status != s.current and self._written.get(s.key) != s.status:
                    self._pending[s.key] = s
            if self._pending:
                self._wake.set()
        return out

    def start(self, trigger: Trigger) -> None:
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._timer(trigger), name="knative-rollout-timer"))
        if self.write_status is not None:
            self._tasks.append(loop.create_task(self._writer(), name="knative-status-writer"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []

    def report(self) -> dict[str, Any]:
        return report(self.reconciler)

    async def _timer(self, trigger: Trigger) -> None:
        fired = 0.0
        while True:
            due = self.reconciler.next_due
            if due and due != fired and self.clock() >= due:
                fired = due
                trigger({ROLLOUT_TICK})
            await asyncio.sleep(self.tick)

    async def _writer(self) -> None:
        assert self.write_status is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            pending, self._pending = self._pending, {}
            for s in pending.values():
                key = s.key
                written = await asyncio.to_thread(self.write_status, key.kind, s.api_version, key.namespace,
                                                  key.name, s.current, s.status)
                if written:
                    self._written[key] = s.status
