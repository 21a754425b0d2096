"""Leader-only status reporting: the analysis of the current snapshot goes into the objects' status.

Every replica serves xDS; only the elected leader writes (istiod's `istio-analyze-leader`), so two replicas
never fight over the same status. The writer (pilot.sources.kube.analysis_status) is handed in, so this module knows
no Kubernetes. Rounds are debounced: at most one per `interval`, and only when the snapshot changed or
leadership was just gained.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from typing import Protocol

from pilot.analysis import analyze
from pilot.model.findings import Finding
from pilot.model.resource import Resource
from pilot.model.snapshot import MeshSnapshot

log = logging.getLogger(__name__)


class Writer(Protocol):
    written: int

    def write(self, resources: Iterable[Resource], findings: Iterable[Finding]) -> int: ...


class StatusReporter:
    def __init__(self, snapshot: Callable[[], MeshSnapshot | None], resources: Callable[[], list[Resource]],
                 ready: Callable[[], bool], is_leader: Callable[[], bool], writer: Writer,
                 interval: float = 1.0) -> None:
        self.snapshot, self.resources, self.ready, self.is_leader = snapshot, resources, ready, is_leader
        self.writer = writer
        self.interval = interval
        self.rounds = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="status-reporter")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        reported: MeshSnapshot | None = None
        while True:
            await asyncio.sleep(self.interval)
            snap = self.snapshot()
            if not self.is_leader():
                reported = None  # on (re)gaining leadership, report again: the old leader may have lagged
                continue
            if snap is None or not self.ready() or snap is reported:
                continue
            try:
                await asyncio.to_thread(self._report, snap)
                reported = snap
            except Exception:  # bad input must never stop the reporter
                log.exception("status report failed")

    def _report(self, snap: MeshSnapshot) -> None:
        findings = analyze(snap)
        # The store's resources carry the status the API server has now (snapshots may lag behind it).
        written = self.writer.write(self.resources(), findings)
        self.rounds += 1
        if written:
            log.info("wrote status of %d objects (%d analysis messages)", written, len(findings))
