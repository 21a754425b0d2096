"""Glue: config change -> snapshot -> per-proxy translation -> xDS cache (-> streams push).

The composition root (`pilot.server_main`) wires a ConfigStore, this controller and the xDS server.
Translation results are memoised per (snapshot, ProxyView): proxies with equal views share the same
generated resources (ARCHITECTURE.md rule 2). A change reaches only the proxies its push plan names
(push_scope.py); an endpoint-only change swaps their ClusterLoadAssignments and translates nothing else.

Translation runs on the event loop, so long pushes and bursts of connecting proxies give the loop back
every few milliseconds: gRPC must keep accepting and answering streams while thousands of proxies sync
(grpc-core cancels calls the application has not picked up in time).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import grpc

from pilot.model.findings import Finding
from pilot.model.mesh import MeshConfig
from pilot.model.proxy import NodeId, NodeIdError, ProxyView
from pilot.model.snapshot import MeshSnapshot, build_snapshot
from pilot.push_metrics import PushMetrics
from pilot.push_scope import PushPlan, plan_push
from pilot.sources.store import ConfigStore
from pilot.translate.eds_refresh import refreshed_endpoints
from pilot.translate.generate import ENDPOINT, Resources, generate_with_findings
from pilot.xds.cache import ResourceCache
from pilot.xds.server import StreamRefused

log = logging.getLogger(__name__)

Generator = Callable[[MeshSnapshot, ProxyView], tuple[Resources, list[Finding]]]
# Translate for at most this long before letting the event loop serve streams again.
YIELD_EVERY_S = 0.02


@dataclass
class PushStats:
    snapshots_built: int = 0
    pushes: int = 0
    last_push_seconds: float = 0.0
    translations: int = 0
    translation_cache_hits: int = 0
    translation_errors: int = 0
    endpoint_only_updates: int = 0
    last_snapshot_version: str = ""
    last_push_reached: int = 0
    proxies: dict[str, ProxyView] = field(default_factory=dict)


class MeshController:
    def __init__(self, store: ConfigStore, cache: ResourceCache, mesh: MeshConfig | None = None,
                 generator: Generator = generate_with_findings) -> None:
        self.store = store
        self.cache = cache
        self.mesh = mesh or MeshConfig()
        self.generator = generator
        self.snapshot: MeshSnapshot | None = None
        self.nodes: dict[str, NodeId] = {}
        self._streams: dict[str, int] = {}  # a proxy may briefly hold two streams while reconnecting
        self.stats = PushStats()
        self.metrics = PushMetrics()
        self._memo: dict[ProxyView, tuple[Resources, list[Finding]]] = {}
        # What each proxy was last given (with extras), so an endpoint-only change can keep the rest.
        self._given: dict[str, Resources] = {}
        # What translation left out per proxy (e.g. EnvoyFilter patches), for /debug/configz and logs.
        self.translation_findings: dict[str, list[Finding]] = {}
        self._memo_version = ""
        self._built_from_synced = False
        self._lock = asyncio.Lock()
        # Extension point: extra per-proxy resources (e.g. SDS secrets) merged into the generated set.
        self.extra_resources: list[Callable[[MeshSnapshot, ProxyView, NodeId], Resources]] = []
        # Called after each push or connection (the server schedules idle garbage collection with it).
        self.on_work: Callable[[], None] | None = None

    @property
    def ready(self) -> bool:
        """True once a snapshot was built from fully synced sources (never serve a partial view)."""
        return self.snapshot is not None and self._built_from_synced

    # ---- snapshot ------------------------------------------------------------------------------
    def rebuild_snapshot(self) -> MeshSnapshot:
        synced = self.store.synced  # read before the resources: a later sync triggers another rebuild
        snap = build_snapshot(self.store.resources(), self.mesh, previous=self.snapshot)
        self._built_from_synced = synced
        self.snapshot = snap
        self.stats.snapshots_built += 1
        self.stats.last_snapshot_version = snap.version
        return snap

    async def push_all(self, keys: set[object] | None = None, since: float | None = None) -> None:
        """Rebuild the snapshot and update every proxy the change touches. `since`: when the change
        first arrived (time.monotonic), for the convergence metric."""
        async with self._lock:
            start = time.perf_counter()
            since = since if since is not None else time.monotonic()
            old = self.snapshot
            try:
                snap = self.rebuild_snapshot()
            except Exception:
                # Bad input must never stop the control plane: keep serving the last good snapshot.
                log.exception("building the mesh snapshot failed; still serving snapshot %s",
                              old.version if old else "(none)")
                self.stats.translation_errors += 1
                self.snapshot = old
                return
            if old is not None and snap.version == old.version:
                return  # e.g. a source only became synced: ready may change, the config did not
            plan = plan_push(old, snap, keys or (), self.nodes)
            self.metrics.trigger(keys or ())
            reached = await self._apply(snap, plan, since)
            self.stats.pushes += 1
            self.stats.last_push_reached = reached
            self.stats.last_push_seconds = time.perf_counter() - start
            log.info("pushed snapshot %s to %d of %d proxies (%d endpoints only) in %.1f ms", snap.version,
                     reached, len(self.nodes), len(plan.endpoints_only), self.stats.last_push_seconds * 1000)
        if self.on_work is not None:
            self.on_work()

    async def _apply(self, snap: MeshSnapshot, plan: PushPlan, since: float) -> int:
        reached = 0
        slice_start = time.perf_counter()
        for node_id, node in list(self.nodes.items()):
            if self.snapshot is not snap:
                break  # a newer push took over while we yielded (never happens under the lock)
            if node_id not in self.nodes or not plan.reaches(node_id):
                continue
            hosts = plan.endpoints_only.get(node_id)
            if hosts is not None and self._update_endpoints(snap, node_id, node, hosts):
                self.stats.endpoint_only_updates += 1
            else:
                self._update_node_safely(snap, node_id, node)
            reached += 1
            self.metrics.converged(time.monotonic() - since)
            if time.perf_counter() - slice_start > YIELD_EVERY_S:
                await asyncio.sleep(0)
                slice_start = time.perf_counter()
        return reached

    def resources_for(self, snap: MeshSnapshot, node: NodeId) -> tuple[ProxyView, Resources]:
        view = snap.proxy_view(node)
        if self._memo_version != snap.version:
            self._memo, self._memo_version = {}, snap.version
        memo = self._memo.get(view)
        if memo is None:
            memo = self.generator(snap, view)
            self._memo[view] = memo
            self.stats.translations += 1
        else:
            self.stats.translation_cache_hits += 1
        res, findings = memo
        self._note_findings(str(node), findings)
        extras = [extra(snap, view, node) for extra in self.extra_resources]
        if extras:
            merged: dict[str, dict] = {t: dict(v) for t, v in res.items()}
            for e in extras:
                for t, v in e.items():
                    merged.setdefault(t, {}).update(v)
            res = merged
        return view, res

    def _note_findings(self, node_id: str, findings: list[Finding]) -> None:
        before = {f.line() for f in self.translation_findings.get(node_id, [])}
        for f in findings:
            if f.line() not in before:
                log.warning("%s: %s", node_id, f.line())
        if findings:
            self.translation_findings[node_id] = findings
        else:
            self.translation_findings.pop(node_id, None)

    def _update_node_safely(self, snap: MeshSnapshot, node_id: str, node: NodeId) -> bool:
        """Translate for one proxy; on a bug, log it and leave the proxy on its last good config."""
        try:
            self._update_node(snap, node_id, node)
            return True
        except Exception:
            log.exception("translating config for %s failed; it keeps its last good config", node_id)
            self.stats.translation_errors += 1
            return False

    def _update_node(self, snap: MeshSnapshot, node_id: str, node: NodeId) -> None:
        view, res = self.resources_for(snap, node)
        self.stats.proxies[node_id] = view
        self._give(node_id, res)

    def _update_endpoints(self, snap: MeshSnapshot, node_id: str, node: NodeId, hosts: frozenset[str]) -> bool:
        """The proxy's last config with new assignments for `hosts`; False when it has none to start from."""
        given = self._given.get(node_id)
        if given is None or ENDPOINT not in given:
            return False
        try:
            endpoints = refreshed_endpoints(snap, snap.proxy_view(node), given[ENDPOINT], hosts)
        except Exception:
            log.exception("refreshing endpoints of %s failed; translating it in full", node_id)
            return False
        self._give(node_id, {**given, ENDPOINT: endpoints})
        return True

    def _give(self, node_id: str, res: Resources) -> None:
        self.cache.set_node_resources(node_id, res)
        self._given[node_id] = res

    # ---- xDS hooks -----------------------------------------------------------------------------
    async def on_connect(self, node: object, metadata: Mapping[str, str], peer: str) -> None:
        arrived = time.monotonic()
        node_id = str(getattr(node, "id", ""))
        try:
            parsed = NodeId.parse(node_id, interception_mode(node))
        except NodeIdError as exc:
            raise StreamRefused(grpc.StatusCode.INVALID_ARGUMENT, str(exc)) from exc
        if not self.ready or self.snapshot is None:
            # Never hand a (re)connecting Envoy an empty config: it would wipe what works.
            raise StreamRefused(grpc.StatusCode.UNAVAILABLE, "control plane not ready: sources not synced")
        # Let the loop take in other streams first: when thousands connect at once, each waits its turn
        # here instead of holding up the acceptance of the next.
        await asyncio.sleep(0)
        async with self._lock:
            assert self.snapshot is not None
            self.nodes[node_id] = parsed
            self._streams[node_id] = self._streams.get(node_id, 0) + 1
            if not self._update_node_safely(self.snapshot, node_id, parsed) and self.cache.get(node_id) is None:
                self._streams[node_id] -= 1
                if not self._streams[node_id]:
                    del self._streams[node_id], self.nodes[node_id]
                raise StreamRefused(grpc.StatusCode.UNAVAILABLE, "no config could be generated for this proxy")
        self.metrics.queued(time.monotonic() - arrived)
        if self.on_work is not None:
            self.on_work()
        log.info("proxy connected: %s from %s", node_id, peer)

    async def on_disconnect(self, node_id: str) -> None:
        left = self._streams.get(node_id, 1) - 1
        if left > 0:
            self._streams[node_id] = left
            return
        self._streams.pop(node_id, None)
        self.nodes.pop(node_id, None)
        self._given.pop(node_id, None)
        self.translation_findings.pop(node_id, None)
        self.stats.proxies.pop(node_id, None)
        log.info("proxy disconnected: %s", node_id)


def interception_mode(node: object) -> str:
    """Istio's node metadata `INTERCEPTION_MODE` (REDIRECT when istio-init's iptables capture the pod)."""
    fields = getattr(getattr(node, "metadata", None), "fields", None)
    value = fields.get("INTERCEPTION_MODE") if fields is not None else None
    return str(getattr(value, "string_value", "") or "")
