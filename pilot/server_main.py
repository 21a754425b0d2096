"""The composition root: starts every long-lived task of `pilot serve` and stops them all."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import json_format

from pilot.dashboard.api import Dashboard, DashboardOptions, DashboardSources
from pilot.debounce import DebouncedRunner
from pilot.gc_idle import IdleCollector
from pilot.httpserver import HttpServer, Response
from pilot.knative_serve import KnativeRuntime
from pilot.model.mesh import MeshConfig
from pilot.model.resource import ConfigKey
from pilot.push import MeshController
from pilot.ratelimit.rules import GlobalRules
from pilot.ratelimit.service import RateLimitService
from pilot.ratelimit.service import start_server as start_rate_limit_server
from pilot.ratelimit.store import MemoryStore, RedisStore
from pilot.security.redact import redact_private_keys
from pilot.security.wiring import SecurityOptions, install_security
from pilot.sources.files import FileSource
from pilot.sources.store import ConfigStore
from pilot.status_report import StatusReporter
from pilot.validation import validate_document, validate_resource
from pilot.xds.cache import ResourceCache
from pilot.xds.server import XdsHooks, XdsServer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LeaderOptions:
    """Kube mode: which Lease elects the one replica that writes status, and client-go's timings."""

    enabled: bool = True
    namespace: str = "istio-system"
    name: str = "meshpilot-analyze-leader"
    identity: str = ""  # default: hostname_random
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    status_interval: float = 1.0


@dataclass
class ServeOptions:
    config_dirs: Sequence[str] = ()
    xds_address: str = "127.0.0.1:15010"
    http_address: str = "127.0.0.1:15014"
    mesh_config: MeshConfig = field(default_factory=MeshConfig)
    debounce_after: float = 0.1
    debounce_max: float = 10.0
    # Envoy's rate limit service for global RateLimitPolicy rules; port 0 picks a free one. Sidecars
    # learn the bound address through the `meshpilot-ratelimit` cluster (mesh rateLimitService).
    ratelimit_address: str = "127.0.0.1:0"
    # redis://host:port/db shares the buckets between replicas; "" keeps them in this process.
    ratelimit_redis: str = ""
    kube: bool = False
    kubeconfig: str | None = None
    kube_context: str | None = None
    namespaces: tuple[str, ...] = ()
    webhook_address: str = ""  # e.g. 0.0.0.0:15017; needs webhook_cert_dir with tls.crt/tls.key
    webhook_cert_dir: str = ""
    security: SecurityOptions | None = None  # None: no CA, plaintext, no SDS
    activator: Any = None  # pilot.activator.options.ActivatorOptions: Knative scale from/to zero
    leader: LeaderOptions = field(default_factory=LeaderOptions)


class ControlPlane:
    def __init__(self, opts: ServeOptions) -> None:
        self.opts = opts
        self.store = ConfigStore(validate_resource)
        self.cache = ResourceCache()
        self.controller = MeshController(self.store, self.cache, opts.mesh_config)
        self.security, hooks = install_security(self.controller, opts.security)
        self.xds = XdsServer(self.cache, hooks or XdsHooks(on_connect=self.controller.on_connect,
                                                           on_disconnect=self.controller.on_disconnect),
                             credentials=self.security.xds_credentials() if self.security else None)
        self.files = [FileSource([d], self.store, validate_document, source_id=f"files:{d}")
                      for d in opts.config_dirs]
        self.gc = IdleCollector()
        self.debouncer = DebouncedRunner(self._push, opts.debounce_after, opts.debounce_max)
        self.http = HttpServer({
            "/ready": self._ready, "/metrics": self._metrics, "/debug/syncz": self._syncz,
            "/debug/config_dump": self._config_dump, "/debug/configz": self._configz,
            "/debug/knative": lambda _q: Response.json(self.knative.report()),
        })
        self.http.routes.update(Dashboard(DashboardSources(
            lambda: self.controller.snapshot, self.xds.sync_status, self.config_dump_of),
            DashboardOptions.from_env()).routes())
        self.kube = self._make_kube_source() if opts.kube else None
        self.elector: Any = None
        self.status: StatusReporter | None = None
        if self.kube is not None and opts.leader.enabled:
            self._make_leader_status()
        self.knative = self._make_knative()
        self.webhook: Any = None
        self.xds_port = 0
        self.http_port = 0
        self.ratelimit = RateLimitService(
            RedisStore(opts.ratelimit_redis) if opts.ratelimit_redis else MemoryStore(),
            GlobalRules(lambda: self.controller.snapshot))
        self._ratelimit_server: grpc.aio.Server | None = None
        self.ratelimit_port = 0
        self.activator: Any = None
        if opts.activator is not None:
            from pilot.activator.wiring import ActivatorService

            self.activator = ActivatorService(opts.activator, self.controller, self.cache, self.xds)

    def _make_kube_source(self):  # type: ignore[no-untyped-def]
        from pilot.sources.kube import KubeOptions, KubeSource, api_client_from

        api = api_client_from(self.opts.kubeconfig, self.opts.kube_context)
        return KubeSource(self.store, api, KubeOptions(namespaces=tuple(self.opts.namespaces)))

    def _make_knative(self) -> KnativeRuntime:
        writer = None
        if self.kube is not None:
            from pilot.sources.kube.status import StatusWriter

            # Every replica writes the same Knative status (an idempotent merge patch); gating it on the
            # Lease would need a rewrite on takeover, which the Knative runtime does not do yet.
            writer = StatusWriter(self.kube.api).write
        return KnativeRuntime(self.controller, self.opts.mesh_config.domain_suffix, writer)

    def _make_leader_status(self) -> None:
        from pilot.sources.kube import LeaderElector, LeaseTimings, StatusWriter

        lo = self.opts.leader
        assert self.kube is not None
        api = self.kube.api
        self.elector = LeaderElector(api, lo.namespace, lo.name, identity=lo.identity,
                                     timings=LeaseTimings(lo.lease_duration, lo.renew_deadline, lo.retry_period))
        writer = StatusWriter(api, lambda: self.elector.is_leader)
        self.status = StatusReporter(lambda: self.controller.snapshot, self.store.resources,
                                     lambda: self.controller.ready, lambda: self.elector.is_leader, writer,
                                     lo.status_interval)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        await self._start_ratelimit()
        if self.activator is not None:
            await self.activator.start()  # before the first snapshot: cold revisions point at it from the start

        def on_change(keys: set[ConfigKey]) -> None:
            loop.call_soon_threadsafe(self.debouncer.event, set[object](keys))

        self.store.subscribe(on_change)
        if self.opts.webhook_address:
            self._start_webhook()
        if not self.opts.config_dirs and self.kube is None:
            self.store.register("empty")
            self.store.mark_synced("empty")
        # Listen before reading any source: until every source has synced a (re)started replica answers
        # /ready 503 and refuses ADS streams with UNAVAILABLE (MeshController.on_connect), so a sidecar
        # that lists several replicas retries on to one that is synced and keeps its config meanwhile.
        self.xds_port = await self.xds.start(self.opts.xds_address)
        self.http_port = await self.http.start(self.opts.http_address)
        if self.kube is not None:
            self.kube.start()
        if self.elector is not None and self.status is not None:
            self.elector.start()
            self.status.start()
        for fs in self.files:
            await fs.start_off_loop()
        await self.controller.push_all()
        self.gc.collect_now()  # the first snapshot is the bulk of what stays alive: freeze it now
        self.controller.on_work = self.gc.activity
        self.debouncer.start()
        self.knative.start(self.debouncer.event)
        if self.security is not None:
            self.security.start()
        log.info("meshpilot serving xDS on %s:%d, HTTP on %s:%d",
                 self.opts.xds_address.rpartition(":")[0], self.xds_port,
                 self.opts.http_address.rpartition(":")[0], self.http_port)

    async def _push(self, keys: set[object]) -> None:
        await self.controller.push_all(keys, since=self.debouncer.batch_started)

    async def _start_ratelimit(self) -> None:
        self._ratelimit_server, self.ratelimit_port = await start_rate_limit_server(
            self.ratelimit, self.opts.ratelimit_address)
        if not self.controller.mesh.rate_limit_service:
            host = self.opts.ratelimit_address.rpartition(":")[0]
            self.controller.mesh = replace(self.controller.mesh, rate_limit_service=f"{host}:{self.ratelimit_port}")

    def _start_webhook(self) -> None:
        from pilot.validation import validate_resource
        from pilot.webhook import WebhookServer

        host, _, port = self.opts.webhook_address.rpartition(":")
        cert_dir = Path(self.opts.webhook_cert_dir)
        self.webhook = WebhookServer(host or "0.0.0.0", int(port), cert_dir / "tls.crt", cert_dir / "tls.key",
                                     validate_resource).start()

    async def stop(self) -> None:
        if self.activator is not None:
            await self.activator.stop()
        if self._ratelimit_server is not None:
            await self._ratelimit_server.stop(0.5)
        await self.ratelimit.store.close()
        await self.debouncer.stop()
        await self.knative.stop()
        self.gc.stop()
        if self.status is not None:
            await self.status.stop()
        if self.elector is not None:
            await asyncio.to_thread(self.elector.stop)  # hands the Lease over at once
        if self.kube is not None:
            await asyncio.to_thread(self.kube.stop)
        if self.webhook is not None:
            self.webhook.stop()
        if self.security is not None:
            await self.security.stop()
        for fs in self.files:
            await fs.stop()
        await self.xds.stop(0.5)
        await self.http.stop()

    # ---- HTTP handlers ---------------------------------------------------------------------------
    def _ready(self, _q: dict[str, list[str]]) -> Response:
        return Response.text("ready\n") if self.controller.ready else Response.text("not ready\n", 503)

    def _syncz(self, _q: dict[str, list[str]]) -> Response:
        return Response.json(self.xds.sync_status())

    def _metrics(self, _q: dict[str, list[str]]) -> Response:
        from pilot.metrics import render_metrics

        return Response(200, render_metrics(self).encode(), "text/plain; version=0.0.4")

    def _config_dump(self, q: dict[str, list[str]]) -> Response:
        proxy = (q.get("proxy") or q.get("proxyID") or [""])[0]
        dump = self.config_dump_of(proxy)
        if dump is None:
            return Response.json({"error": f"no proxy {proxy!r}; see /debug/syncz"}, 404)
        return Response.json(dump)

    def config_dump_of(self, proxy: str) -> dict[str, dict[str, Any]] | None:
        """Type URL -> name -> resource (proto JSON, private keys redacted) sent to one proxy."""
        node = self.cache.get(proxy)
        if node is None:
            return None
        out: dict[str, dict[str, Any]] = {}
        for type_url, typed in node.types.items():
            out[type_url] = {name: _redacted(json_format.MessageToDict(_unpack(r.any)))
                             for name, r in typed.resources.items()}
        return redact_private_keys(out)

    def _configz(self, _q: dict[str, list[str]]) -> Response:
        return Response.json({
            "resources": [{"kind": r.kind, "namespace": r.namespace, "name": r.name, "origin": str(r.origin)}
                          for r in self.store.resources()],
            "findings": [f.as_dict() for f in self.store.findings()],
            "translation_findings": {proxy: [f.as_dict() for f in fs]
                                     for proxy, fs in sorted(self.controller.translation_findings.items())},
        })


def _redacted(resource: dict[str, Any]) -> dict[str, Any]:
    """Private keys never leave through debug endpoints (Envoy's admin config_dump redacts them too)."""
    cert = resource.get("tlsCertificate")
    if isinstance(cert, dict) and "privateKey" in cert:
        cert["privateKey"] = {"inlineString": "[redacted]"}
    return resource


def _unpack(a):  # type: ignore[no-untyped-def]
    from google.protobuf import symbol_database

    msg = symbol_database.Default().GetSymbol(a.type_url.split("/")[-1])()
    a.Unpack(msg)
    return msg


async def serve_forever(opts: ServeOptions) -> None:
    cp = ControlPlane(opts)
    try:
        await cp.start()
    except BaseException:
        await cp.stop()  # what did start (the rate limit service, file watchers) must not outlive a failed start
        raise
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await cp.stop()


def load_mesh_config(path: str | None) -> MeshConfig:
    """The `--mesh-config` file; any problem is one `MeshConfigError` line naming the file."""
    if not path:
        return MeshConfig()
    import yaml

    from pilot.model.providers import MeshConfigError

    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
        if not isinstance(data, dict):
            raise MeshConfigError("must be a YAML mapping")
        return MeshConfig.from_dict(data)
    except (OSError, yaml.YAMLError, ValueError) as problem:
        detail = problem.strerror if isinstance(problem, OSError) and problem.strerror else problem
        raise MeshConfigError(f"{path}: {detail}") from None
