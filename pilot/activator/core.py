"""The activator's decisions, without HTTP: which pod a request for a revision goes to, or how it waits.

Per request (knative-notes.md §3, §4.3):
- an unknown revision is an error (the proxy answers 404);
- a revision with a pod that answered its probe gets the request at once (round robin);
- otherwise the request waits in the revision's bounded queue until its deadline, and one activation
  task per revision probes the snapshot's ready pods; only when none answers does it fire the
  activation hook, once per cold period (again only if a whole request timeout passed without a pod).
  The first pod to answer releases every held request; the time since the first one arrived is the
  cold start, logged and observed in `meshpilot_activator_cold_start_seconds`.

Probing before forwarding matters because the registry's "ready" is a Pod with an IP (or a ready
EndpointSlice entry), which can be true before the app listens.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from pilot.activator.hold import HoldQueue
from pilot.activator.hooks import Hook
from pilot.activator.metrics import ActivatorMetrics
from pilot.model.registry import Endpoint
from pilot.model.revisions import Revision
from pilot.model.snapshot import MeshSnapshot

log = logging.getLogger(__name__)

Key = tuple[str, str]  # (namespace, revision)
Prober = Callable[[Endpoint], Awaitable[bool]]


class UnknownRevision(Exception):
    pass


@dataclass
class RevisionState:
    namespace: str
    name: str
    queue: HoldQueue[None]
    healthy: list[Endpoint] = field(default_factory=list)  # pods that answered a probe
    # Serialises activation with the scaler's deactivation of the same revision.
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    last_activity: float = 0.0
    in_flight: int = 0
    cold_since: float | None = None  # when the first request of this cold period arrived
    fired_at: float | None = None  # when this cold period's activation hook was called
    task: asyncio.Task[None] | None = None
    turn: itertools.count[int] = field(default_factory=itertools.count)

    @property
    def label(self) -> str:
        return f"{self.namespace}/{self.name}"


async def tcp_probe(ep: Endpoint, timeout: float = 0.3) -> bool:
    try:
        _reader, writer = await asyncio.wait_for(asyncio.open_connection(ep.address, ep.port), timeout)
    except (OSError, TimeoutError):
        return False
    writer.close()
    return True


class Activator:
    def __init__(self, snapshot: Callable[[], MeshSnapshot | None], hook: Hook, *, timeout: float = 10.0,
                 queue_size: int = 1000, probe_interval: float = 0.05, prober: Prober = tcp_probe,
                 metrics: ActivatorMetrics | None = None) -> None:
        self._snapshot = snapshot
        self.hook = hook
        self.timeout = timeout
        self.queue_size = queue_size
        self.probe_interval = probe_interval
        self._probe = prober
        self.metrics = metrics or ActivatorMetrics()
        self.states: dict[Key, RevisionState] = {}
        self.on_activated: Callable[[Key], None] | None = None  # the scaler's cue to push SERVE
        self._hooks: set[asyncio.Task[bool]] = set()

    # ---- per request ---------------------------------------------------------------------------
    def revision(self, key: Key) -> Revision:
        snap = self._snapshot()
        rev = snap.revisions.get(key) if snap is not None else None
        if rev is None:
            raise UnknownRevision(f"no revision {key[1]!r} in namespace {key[0]!r}")
        return rev

    def state(self, key: Key) -> RevisionState:
        st = self.states.get(key)
        if st is None:
            st = self.states[key] = RevisionState(key[0], key[1], HoldQueue(self.queue_size))
        return st

    async def route(self, key: Key, deadline: float) -> Endpoint:
        """The pod to forward to; waits while the revision is cold. Raises UnknownRevision, QueueFull
        or HoldTimeout (hold.py)."""
        rev = self.revision(key)
        st = self.state(key)
        st.last_activity = time.monotonic()
        held = False
        while True:
            self._prune(st, rev)
            if st.healthy:  # cleared while the scaler deactivates the revision
                return st.healthy[next(st.turn) % len(st.healthy)]
            if st.cold_since is None:
                st.cold_since = time.monotonic()
            if st.task is None or st.task.done():
                st.task = asyncio.create_task(self._activate(st), name=f"activate {st.label}")
            if not held:
                held = True
                self.metrics.held[st.label] += 1
            self.metrics.holding[st.label] += 1
            try:
                await st.queue.hold(deadline - time.monotonic())
            finally:
                self.metrics.holding[st.label] -= 1
            rev = self.revision(key)

    def started(self, key: Key) -> None:
        st = self.state(key)
        st.in_flight += 1
        st.last_activity = time.monotonic()

    def finished(self, key: Key) -> None:
        st = self.state(key)
        st.in_flight -= 1
        st.last_activity = time.monotonic()

    def unreachable(self, key: Key, ep: Endpoint) -> None:
        """A forward could not connect: stop using that pod until it answers a probe again."""
        st = self.state(key)
        st.healthy = [e for e in st.healthy if (e.address, e.port) != (ep.address, ep.port)]

    # ---- the scaler's side ---------------------------------------------------------------------
    def busy_since(self, key: Key, since: float) -> bool:
        st = self.states.get(key)
        return st is not None and (st.in_flight > 0 or st.last_activity > since or len(st.queue) > 0)

    def last_activity(self, key: Key) -> float:
        st = self.states.get(key)
        return st.last_activity if st is not None else 0.0

    @asynccontextmanager
    async def deactivating(self, key: Key) -> AsyncIterator[RevisionState]:
        """Hold off activation while the revision is being scaled to zero; its pods count as gone."""
        st = self.state(key)
        async with st.lock:
            st.healthy = []
            yield st

    # ---- activation ----------------------------------------------------------------------------
    async def _activate(self, st: RevisionState) -> None:
        async with st.lock:
            while len(st.queue):
                snap = self._snapshot()
                rev = snap.revisions.get((st.namespace, st.name)) if snap is not None else None
                pods = rev.ready_pods() if rev is not None else ()
                answers = await asyncio.gather(*(self._probe(p) for p in pods))
                ok = [p for p, good in zip(pods, answers, strict=True) if good]
                if ok:
                    st.healthy = ok
                    self._warm(st)
                    return
                now = time.monotonic()
                if st.fired_at is None or now - st.fired_at >= self.timeout:
                    st.fired_at = now
                    self._fire(st)
                await asyncio.sleep(self.probe_interval)

    def _fire(self, st: RevisionState) -> None:
        if not self.hook:
            log.warning("revision %s has no ready pod and no --activation-hook is set", st.label)
            return
        self.metrics.activations[st.label] += 1
        log.info("activating revision %s (%d requests held)", st.label, len(st.queue))
        task = asyncio.create_task(self.hook.run(st.namespace, st.name), name=f"activation hook {st.label}")
        self._hooks.add(task)
        task.add_done_callback(self._hooks.discard)

    def _warm(self, st: RevisionState) -> None:
        held = len(st.queue)
        if st.cold_since is not None:
            elapsed = time.monotonic() - st.cold_since
            if st.fired_at is not None:
                self.metrics.cold_start.observe(elapsed, st.label)
                log.info("cold start of revision %s took %.3f s (%d requests held)", st.label, elapsed, held)
            else:
                log.info("revision %s answered after %.3f s without activation (%d requests held)",
                         st.label, elapsed, held)
        st.cold_since = st.fired_at = None
        st.queue.release(None)
        if self.on_activated is not None:
            self.on_activated((st.namespace, st.name))

    @staticmethod
    def _prune(st: RevisionState, rev: Revision) -> None:
        if st.healthy:
            ready = {(e.address, e.port) for e in rev.ready_pods()}
            st.healthy = [e for e in st.healthy if (e.address, e.port) in ready]

    async def stop(self) -> None:
        tasks = [*self._hooks, *(st.task for st in self.states.values() if st.task is not None)]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
