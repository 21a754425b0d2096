"""The task that renews workload certificates at half-life and re-pushes `default` to their proxies.

Envoy swaps an SDS secret in place: new handshakes use the new certificate, open connections keep theirs,
and no listener drains, so a rotation drops no requests.
https://www.envoyproxy.io/docs/envoy/latest/configuration/security/secret#secret-rotation
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from pilot.ca.authority import utc_now
from pilot.ca.identity import Identity
from pilot.ca.rotation import CertStore
from pilot.security.counters import SecurityCounters
from pilot.security.gate import ProxyGate

log = logging.getLogger(__name__)

ROTATED_METRIC = "meshpilot_ca_certs_rotated_total"
IDLE_POLL_S = 1.0  # how often to look again when no certificate is held yet
MAX_SLEEP_S = 30.0  # wake up now and then anyway (a clock jump must not leave certs to expire)


class RotationLoop:
    def __init__(self, certs: CertStore, gate: ProxyGate, refresh: Callable[[list[str]], None],
                 counters: SecurityCounters) -> None:
        self._certs = certs
        self._gate = gate
        self._refresh = refresh
        self._counters = counters
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="cert-rotation")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def rotate_now(self) -> list[Identity]:
        """Renew what is due and push it; returns the identities renewed."""
        # Identities no connected proxy has are dropped first, so nobody renews certificates for them.
        self._certs.retain(self._gate.identities())
        due = self._certs.rotate_due()
        if due:
            nodes = self._gate.nodes_of(set(due))
            self._counters.inc(ROTATED_METRIC, amount=len(due))
            log.info("renewed workload certificates of %s; pushing to %d proxies",
                     ", ".join(f"{i.ns}/{i.sa}" for i in due), len(nodes))
            self._refresh(nodes)
        return due

    async def _run(self) -> None:
        while True:
            at = self._certs.next_rotation_at()
            delay = IDLE_POLL_S if at is None else (at - utc_now()).total_seconds()
            await asyncio.sleep(min(max(delay, 0.01), MAX_SLEEP_S))
            try:
                self.rotate_now()
            except Exception:  # a failed renewal is retried on the next wake; the loop must live on
                log.exception("workload certificate rotation failed")
                await asyncio.sleep(IDLE_POLL_S)
