"""Put a proxy's Telemetry (tracing, access logging) into its listeners' HTTP connection managers and
TCP proxies, and the collector clusters next to them. Runs right after routing, before security, so
a collector cluster gets the TLS settings any other outbound cluster would (docs/telemetry.md).

With no Telemetry resource and no `defaultProviders`, resources come back untouched: output is then
byte-identical to what it was before telemetry existed (the golden corpus checks it).
"""

from __future__ import annotations

from envoy.config.listener.v3 import listener_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm
from envoy.extensions.filters.network.tcp_proxy.v3 import tcp_proxy_pb2

from pilot.model.findings import Finding, Severity
from pilot.model.providers import ExtensionProvider
from pilot.model.proxy import ProxyView
from pilot.model.scope import destination_rule_for
from pilot.model.snapshot import MeshSnapshot
from pilot.model.telemetry import CLIENT, SERVER, access_logs_for, applicable, tracing_for
from pilot.translate import names
from pilot.translate.access_log import access_logs
from pilot.translate.clusters import merged_policy, outbound_cluster
from pilot.translate.endpoints import load_assignment
from pilot.translate.pb import pack
from pilot.translate.resource_types import CLUSTER, ENDPOINT, LISTENER, Resources
from pilot.translate.tracing import UUID_REQUEST_ID, CollectorTarget, hcm_tracing, request_id_extension

CODE_PROVIDER = "MP5201"  # a Telemetry names a provider the mesh config does not define or meshpilot lacks
CODE_COLLECTOR = "MP5202"  # a tracing provider's service is not in the registry
TRACING_KINDS = ("zipkin", "opentelemetry")


class _Plan:
    """What one proxy's listeners get, per mode (CLIENT for outbound and gateways, SERVER inbound)."""

    def __init__(self, snapshot: MeshSnapshot, view: ProxyView, out: Resources, findings: list[Finding]) -> None:
        self.snapshot, self.view, self.out, self.findings = snapshot, view, out, findings
        self.targets: dict[str, CollectorTarget | None] = {}
        tracing = tracing_for(snapshot, view)
        self.tracing: dict[str, tuple[hcm.HttpConnectionManager.Tracing, hcm.RequestIDExtension] | None] = {}
        self.logs = {mode: access_logs(access_logs_for(snapshot, view, mode) or ()) for mode in (CLIENT, SERVER)}
        for mode in (CLIENT, SERVER):
            spec = tracing.for_mode(mode) if tracing else None
            target = self.target(spec.provider) if spec is not None and spec.active and spec.provider else None
            self.tracing[mode] = None
            if spec is not None and target is not None:
                self.tracing[mode] = (hcm_tracing(spec, target, view, snapshot.mesh.trust_domain),
                                      request_id_extension(spec))

    def target(self, provider: ExtensionProvider) -> CollectorTarget | None:
        if provider.name not in self.targets:
            self.targets[provider.name] = self._lookup(provider)
        return self.targets[provider.name]

    def _lookup(self, provider: ExtensionProvider) -> CollectorTarget | None:
        """Istio's LookupCluster: `hostname` (unique) or `namespace/hostname`, then the outbound cluster
        of that port; added here when the proxy's Sidecar scope does not already import it."""
        if provider.kind not in TRACING_KINDS or provider.collector is None:
            return None
        collector = provider.collector
        ns, _, host = collector.service.rpartition("/")
        svc = self.snapshot.services.get(host)
        if svc is None or (ns and svc.namespace != ns) or svc.port(collector.port) is None:
            self._collector_missing(provider)
            return None
        sp = svc.port(collector.port)
        assert sp is not None
        name = names.outbound_cluster(sp.port, "", svc.hostname)
        clusters = self.out.setdefault(CLUSTER, {})
        if name not in clusters:
            dr = destination_rule_for(self.snapshot, self.view, svc.hostname)
            c = outbound_cluster(self.snapshot, svc, sp, "", merged_policy(dr, "", sp.port))
            clusters[name] = pack(c)
            if svc.resolution not in ("DNS", "NONE"):
                eps = self.snapshot.service_endpoints(svc.hostname, sp.port)
                self.out.setdefault(ENDPOINT, {})[name] = pack(load_assignment(name, eps))
        return CollectorTarget(svc.hostname, name)

    def _collector_missing(self, provider: ExtensionProvider) -> None:
        assert provider.collector is not None
        message = (f"tracing provider {provider.name}: service {provider.collector.service} port "
                   f"{provider.collector.port} is not in the mesh registry; spans are not reported")
        telemetries = applicable(self.snapshot, self.view)
        self.findings.append(Finding.about(telemetries[-1], "spec.tracing", message, code=CODE_COLLECTOR,
                                           severity=Severity.WARNING) if telemetries else
                             Finding(CODE_COLLECTOR, Severity.WARNING, message, field="defaultProviders.tracing"))

    @property
    def empty(self) -> bool:
        return not any(self.tracing.values()) and not any(self.logs.values())


def apply_telemetry(snapshot: MeshSnapshot, view: ProxyView, resources: Resources) -> tuple[Resources, list[Finding]]:
    providers = snapshot.mesh.telemetry
    if not snapshot.of_kind("Telemetry") and not (providers.default_tracing or providers.default_access_logging):
        return resources, []
    findings = provider_findings(snapshot, view)
    out = {t: dict(v) for t, v in resources.items()}
    plan = _Plan(snapshot, view, out, findings)
    if plan.empty:
        return out, findings
    listeners = out.setdefault(LISTENER, {})
    for name, packed in list(listeners.items()):
        lis = listener_pb2.Listener()
        packed.Unpack(lis)
        mode = SERVER if lis.traffic_direction == 1 else CLIENT  # INBOUND: the server side
        if _apply(lis, plan, mode):
            listeners[name] = pack(lis)
    return out, findings


def _apply(lis: listener_pb2.Listener, plan: _Plan, mode: str) -> bool:
    tracing, logs = plan.tracing[mode], plan.logs[mode]
    changed = False
    for chain in lis.filter_chains:
        for f in chain.filters:
            manager, proxy = hcm.HttpConnectionManager(), tcp_proxy_pb2.TcpProxy()
            if f.typed_config.Is(manager.DESCRIPTOR):
                f.typed_config.Unpack(manager)
                if tracing is not None:
                    manager.tracing.CopyFrom(tracing[0])
                    manager.request_id_extension.CopyFrom(tracing[1])
                manager.access_log.extend(logs)
                f.typed_config.Pack(manager, deterministic=True)
                changed = changed or tracing is not None or bool(logs)
            elif f.typed_config.Is(proxy.DESCRIPTOR) and logs:
                f.typed_config.Unpack(proxy)
                proxy.access_log.extend(logs)
                f.typed_config.Pack(proxy, deterministic=True)
                changed = True
    return changed


def provider_findings(snapshot: MeshSnapshot, view: ProxyView) -> list[Finding]:
    """Provider names in the Telemetries of `view` that the mesh config lacks, or that meshpilot cannot
    translate for that section (istiod skips them with a log line; here they are findings)."""
    providers = snapshot.mesh.telemetry
    usable = {"tracing": TRACING_KINDS, "accessLogging": ("envoyFileAccessLog",)}
    out = []
    for t in applicable(snapshot, view):
        for section, kinds in usable.items():
            for i, entry in enumerate(t.spec.get(section) or []):
                for j, ref in enumerate((entry or {}).get("providers") or []):
                    name = str((ref or {}).get("name") or "")
                    found = providers.find(name)
                    if found is None:
                        problem = "is not defined in the mesh config extensionProviders"
                    elif found.kind not in kinds:
                        problem = f"is a {found.kind} provider, which meshpilot does not translate for {section}"
                    else:
                        continue
                    out.append(Finding.about(t, f"spec.{section}[{i}].providers[{j}].name",
                                             f"provider {name!r} {problem}; it is left out",
                                             code=CODE_PROVIDER, severity=Severity.WARNING))
    return out


__all__ = ["UUID_REQUEST_ID", "apply_telemetry", "provider_findings"]
