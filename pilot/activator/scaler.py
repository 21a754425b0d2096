"""Revisions' endpoint modes over time: scale to zero with a positive hand-off, back to SERVE on activation.

A revision with ready pods is SERVE. Once it has been idle for `scale_to_zero_after` (no request
through the activator since it started serving), the scaler (knative-notes.md §3, Knative's
`handleScaleToZero`):
1. forces it into PROXY: its ClusterLoadAssignments now hold the activator (an EDS push, no route
   change; the push plan treats it like a Pod change);
2. waits until every connected proxy that holds those assignments ACKed them (xds/ackgate.py). A proxy
   that disconnects stops blocking (it gets the activator when it reconnects); if one stays connected
   and silent past `handoff_timeout`, the hand-off is aborted: back to SERVE, pods kept, tried again
   after another idle window, because stopping the pods then could lose that proxy's requests;
3. waits `grace` for requests Envoy sent to a pod before applying the update to finish;
4. aborts if any request reached the activator meanwhile (the revision is not idle after all);
   otherwise calls the deactivation hook, holding off activation until it returns.
The revision then stays in PROXY until the activator sees a pod of it answer again.

Idle is measured at the activator only: while a revision is in SERVE, Envoy sends to its pods
directly, so scale-to-zero is off by default (0) and meant for revisions whose quiet the operator
knows; a request arriving during the hand-off always wins.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from pilot.activator.core import Activator, Key
from pilot.activator.hooks import Hook
from pilot.model.resource import ConfigKey
from pilot.model.revisions import REVISION_MODE_KIND, Mode, Revision, RevisionModes
from pilot.push import MeshController
from pilot.translate.names import outbound_cluster
from pilot.xds.ackgate import AckGate
from pilot.xds.types import ENDPOINT

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScalerOptions:
    scale_to_zero_after: float = 0.0  # seconds idle before scaling to zero; 0: never
    grace: float = 1.0
    handoff_timeout: float = 10.0
    tick: float = 0.1


class Scaler:
    def __init__(self, controller: MeshController, activator: Activator, gate: AckGate,
                 address: tuple[str, int], deactivation: Hook, opts: ScalerOptions) -> None:
        self.controller = controller
        self.activator = activator
        self.gate = gate
        self.address = address
        self.deactivation = deactivation
        self.opts = opts
        self.proxied: set[Key] = set()
        self._serving_since: dict[Key, float] = {}
        self._handoffs: dict[Key, asyncio.Task[None]] = {}
        self._pushes: set[asyncio.Task[None]] = set()
        activator.on_activated = self._activated

    def modes(self) -> RevisionModes:
        return RevisionModes(self.address, frozenset(self.proxied))

    async def push(self, key: Key) -> None:
        await self.controller.push_all({ConfigKey(REVISION_MODE_KIND, *key)}, revision_modes=self.modes())

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.opts.tick)
            self.tick()

    def tick(self) -> None:
        snap = self.controller.snapshot
        if snap is None:
            return
        now = time.monotonic()
        for key, rev in snap.revisions.items():
            if rev.mode is Mode.PROXY or key in self.proxied or key in self._handoffs:
                self._serving_since.pop(key, None)
                continue
            since = self._serving_since.setdefault(key, now)
            idle_from = max(since, self.activator.last_activity(key))
            if self.opts.scale_to_zero_after > 0 and now - idle_from >= self.opts.scale_to_zero_after:
                self._handoffs[key] = asyncio.create_task(self._handoff(key, rev), name=f"scale to zero {key}")

    async def _handoff(self, key: Key, rev: Revision) -> None:
        label = f"{key[0]}/{key[1]}"
        started = time.monotonic()
        try:
            log.info("revision %s idle for %g s: pointing it at the activator", label, self.opts.scale_to_zero_after)
            self.proxied.add(key)
            await self.push(key)
            targets = self.gate.targets(ENDPOINT, [outbound_cluster(port, "", rev.hostname) for port in rev.pods])
            result = await self.gate.wait(ENDPOINT, targets, self.opts.handoff_timeout)
            if not result.ok:
                await self._abort(key, f"{len(result.pending)} proxies did not ACK the activator endpoints within "
                                       f"{self.opts.handoff_timeout:g} s: {', '.join(result.pending)}")
                return
            log.info("revision %s: %d proxies ACKed the activator endpoints in %.3f s (%d disconnected)", label,
                     len(targets) - len(result.disconnected), result.waited, len(result.disconnected))
            await asyncio.sleep(self.opts.grace)
            async with self.activator.deactivating(key):
                if self.activator.busy_since(key, started):
                    await self._abort(key, "requests arrived during the hand-off")
                    return
                await self.deactivation.run(*key)
                self.activator.metrics.deactivations[label] += 1
                log.info("revision %s scaled to zero %.3f s after the hand-off began", label,
                         time.monotonic() - started)
        finally:
            self._handoffs.pop(key, None)

    async def _abort(self, key: Key, why: str) -> None:
        log.warning("scale to zero of %s/%s aborted: %s", *key, why)
        self.activator.metrics.handoffs_aborted[f"{key[0]}/{key[1]}"] += 1
        self.proxied.discard(key)
        await self.push(key)

    def _activated(self, key: Key) -> None:
        """A pod of the revision answered the activator: serve it directly again."""
        handoff = self._handoffs.pop(key, None)
        if handoff is not None:
            handoff.cancel()  # not in its deactivation (that holds the lock activation needs)
        if key in self.proxied:
            self.proxied.discard(key)
            task = asyncio.create_task(self.push(key), name=f"serve {key}")
            self._pushes.add(task)
            task.add_done_callback(self._pushes.discard)

    async def stop(self) -> None:
        tasks = [*self._handoffs.values(), *self._pushes]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
