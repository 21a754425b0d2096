"""The activator inside `pilot serve`: its HTTP proxy, the scaler, and what they take from the server.

It starts before the first snapshot, so that revisions without ready pods point at the activator from
the very first push (never an empty ClusterLoadAssignment).
"""

from __future__ import annotations

import asyncio
import logging

from pilot.activator.core import Activator
from pilot.activator.hooks import Hook
from pilot.activator.options import ActivatorOptions
from pilot.activator.proxy import ActivatorProxy
from pilot.activator.scaler import Scaler
from pilot.push import MeshController
from pilot.xds.ackgate import AckGate
from pilot.xds.cache import ResourceCache
from pilot.xds.server import XdsServer

log = logging.getLogger(__name__)


class ActivatorService:
    def __init__(self, opts: ActivatorOptions, controller: MeshController, cache: ResourceCache,
                 xds: XdsServer) -> None:
        self.opts = opts
        self.controller = controller
        self.core = Activator(lambda: controller.snapshot, Hook(opts.activation_hook, "activation"),
                              timeout=opts.timeout, queue_size=opts.queue_size)
        self.proxy = ActivatorProxy(self.core)
        self.gate = AckGate(cache, xds.acked_version, xds.connected_nodes)
        self.scaler: Scaler | None = None
        self.port = 0
        self._loop: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.port = await self.proxy.start(self.opts.address)
        ip = self.opts.address.rpartition(":")[0].strip("[]")
        self.scaler = Scaler(self.controller, self.core, self.gate, (ip, self.port),
                             Hook(self.opts.deactivation_hook, "deactivation"), self.opts.scaler)
        self.controller.revision_modes = self.scaler.modes()
        self._loop = asyncio.create_task(self.scaler.run(), name="scaler")
        log.info("activator listening on %s:%d", ip, self.port)

    async def stop(self) -> None:
        if self._loop is not None:
            self._loop.cancel()
            await asyncio.gather(self._loop, return_exceptions=True)
        if self.scaler is not None:
            await self.scaler.stop()
        await self.core.stop()
        await self.proxy.stop()

    def metrics_lines(self) -> list[str]:
        return self.core.metrics.lines()
