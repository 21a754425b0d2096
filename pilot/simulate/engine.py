"""Walk one request through the generated config of its source sidecar and its destination sidecars.

Entry point: `simulate(snapshot, "POD.NAMESPACE", Request)`. Everything is read from the Envoy protos
that `pilot.translate.generate` produces, so the walk follows whatever translation emits.
"""

from __future__ import annotations

from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm
from envoy.extensions.filters.network.tcp_proxy.v3 import tcp_proxy_pb2

from pilot.model.authn import spiffe_id
from pilot.model.proxy import NodeId, ProxyView
from pilot.model.registry import Workload
from pilot.model.snapshot import MeshSnapshot
from pilot.simulate.actions import action_summary, fault_of, redirect_status, redirect_summary, route_clusters
from pilot.simulate.config import Connection, ProxyConfig, listener_address, outbound_listeners, select_filter_chain
from pilot.simulate.inbound import HCM, evaluate_destination
from pilot.simulate.request import Request
from pilot.simulate.result import ClusterChoice, EndpointInfo, SimulationResult
from pilot.simulate.routing import select_route, select_virtual_host
from pilot.simulate.upstream import cluster_endpoints
from pilot.translate.generate import generate

TCP_PROXY = "envoy.filters.network.tcp_proxy"


class SimulationError(ValueError):
    """The question cannot be asked (unknown source pod)."""


def find_workload(snapshot: MeshSnapshot, source: str) -> Workload:
    name, _, namespace = source.rpartition(".")
    if not name:
        name, namespace = source, "default"
    for w in snapshot.workloads:
        if w.name == name and w.namespace == namespace:
            return w
    raise SimulationError(f"no pod {name!r} in namespace {namespace!r} (pods need status.podIP)")


def view_of(snapshot: MeshSnapshot, w: Workload) -> ProxyView:
    return snapshot.proxy_view(NodeId("sidecar", w.ip, w.name, w.namespace, f"{w.namespace}.svc.cluster.local"))


class Simulator:
    """Caches each proxy's generated config for one snapshot."""

    def __init__(self, snapshot: MeshSnapshot) -> None:
        self.snapshot = snapshot
        self._configs: dict[str, ProxyConfig] = {}
        self._by_ip = {w.ip: w for w in snapshot.workloads}

    def config_for(self, w: Workload) -> ProxyConfig:
        key = f"{w.name}.{w.namespace}"
        if key not in self._configs:
            self._configs[key] = ProxyConfig.from_resources(generate(self.snapshot, view_of(self.snapshot, w)))
        return self._configs[key]

    def run(self, source: str, request: Request) -> SimulationResult:
        client = find_workload(self.snapshot, source)
        result = SimulationResult(source=f"{client.name}.{client.namespace}", request={
            "url": f"{request.scheme}://{request.host}{request.path_and_query}", "port": request.port,
            "method": request.method, "headers": dict(request.headers)})
        cfg = self.config_for(client)
        listeners = outbound_listeners(cfg, request.port, client.ip)
        if not listeners:
            result.error = f"no outbound listener on port {request.port} (connection refused)"
            return result
        lis = listeners[0]
        result.listener = lis.name
        addr, port = listener_address(lis)
        chain = select_filter_chain(lis, Connection(addr, port))
        if chain is None:
            result.error = f"no filter chain of {lis.name} matches (connection closed)"
            return result
        result.filter_chain = chain.name
        for f in chain.filters:
            if f.name == HCM:
                manager = hcm.HttpConnectionManager()
                f.typed_config.Unpack(manager)
                self._http(result, cfg, manager, request)
                break
            if f.name == TCP_PROXY:
                proxy = tcp_proxy_pb2.TcpProxy()
                f.typed_config.Unpack(proxy)
                result.action = "tcp"
                result.clusters = ([ClusterChoice(proxy.cluster, 100, 1.0)] if proxy.cluster else [
                    ClusterChoice(c.name, c.weight, 0.0) for c in proxy.weighted_clusters.clusters])
                total = sum(c.weight for c in result.clusters)
                for c in result.clusters:
                    c.probability = c.weight / total if total else 0.0
                break
        else:
            result.error = f"filter chain {chain.name!r} has neither an HTTP connection manager nor a TCP proxy"
        if not result.error and result.clusters:
            self._upstream(result, cfg, client, request)
        return result

    def _http(self, result: SimulationResult, cfg: ProxyConfig, manager: hcm.HttpConnectionManager,
              request: Request) -> None:
        if manager.HasField("route_config"):
            rcfg = manager.route_config
        else:
            rcfg = cfg.routes.get(manager.rds.route_config_name)
            if rcfg is None:
                result.error = f"route configuration {manager.rds.route_config_name!r} not generated (404)"
                result.status = 404
                return
        result.route_config = rcfg.name
        ignore_port = manager.strip_any_host_port or manager.strip_matching_host_port
        vh = select_virtual_host(rcfg, request.host, ignore_port)
        if vh is None:
            result.error, result.status = f"no virtual host for {request.host!r} (404)", 404
            return
        result.virtual_host = vh.name
        route = select_route(vh.routes, request, result.notes)
        if route is None:
            result.error, result.status = "no route matches (404)", 404
            return
        result.route = route.name or "(unnamed)"
        kind = route.WhichOneof("action")
        result.action = kind or ""
        if kind == "redirect":
            result.details["redirect"] = redirect_summary(route.redirect)
            result.status = redirect_status(route.redirect)
            return
        if kind == "direct_response":
            result.status = route.direct_response.status
            result.details["direct_response"] = {"status": result.status,
                                                 "body": route.direct_response.body.inline_string}
            if result.status >= 400:
                result.error = f"direct response {result.status} from route {result.route!r}"
            return
        if kind != "route":
            result.error = f"route action {kind!r} is not simulated"
            return
        result.details.update(action_summary(route))
        result.clusters = route_clusters(route.route)
        if not result.clusters:
            result.error = "route has no cluster (cluster_header and plugins are not simulated)"
        fault = fault_of(route)
        abort = fault.abort if fault is not None and fault.HasField("abort") else None
        if abort is not None and abort.http_status:
            share = result.details["fault"]["abort"]["percent"]
            if share >= 100:
                result.error, result.status = f"fault injection aborts with {abort.http_status}", abort.http_status
            elif share > 0:
                result.notes.append(f"fault injection aborts {share:g}% of requests with {abort.http_status}")

    def _upstream(self, result: SimulationResult, cfg: ProxyConfig, client: Workload, request: Request) -> None:
        principal = spiffe_id(self.snapshot.mesh.trust_domain, client.namespace, client.service_account)
        evaluated: set[tuple[str, int]] = set()
        healthy_total = 0
        for choice in result.clusters:
            cluster = cfg.clusters.get(choice.name)
            if cluster is None:
                result.notes.append(f"cluster {choice.name} is not generated: Envoy answers 503 (NC)")
                continue
            eps = cluster_endpoints(cfg, cluster)
            healthy = [e for e in eps if e.healthy]
            healthy_total += len(healthy)
            if not healthy:
                result.notes.append(f"cluster {choice.name} has no healthy endpoints: 503 (UH)")
            for ep in eps:
                w = self._by_ip.get(ep.address)
                pod = f"{w.name}.{w.namespace}" if w else ""
                result.endpoints.append(EndpointInfo(choice.name, ep.address, ep.port, ep.healthy, pod,
                                                     dict(w.labels) if w else {}, ep.tls is not None))
                if not ep.healthy or w is None or (ep.address, ep.port) in evaluated:
                    continue
                evaluated.add((ep.address, ep.port))
                dest_cfg = self.config_for(w)
                result.destinations.append(evaluate_destination(dest_cfg, pod, ep, request, client.ip, principal))
        if healthy_total == 0:
            result.error = "no healthy upstream (503)"
            result.status = 503
            return
        self._decide(result)

    @staticmethod
    def _decide(result: SimulationResult) -> None:
        if not result.destinations:
            result.allowed = True
            return
        denied = [d for d in result.destinations if not d.allowed]
        result.allowed = not denied
        if denied:
            d = denied[0]
            result.policy = d.policy
            if d.error:
                result.error, result.status = f"{d.pod}: {d.error}", 503
            else:
                result.error, result.status = f"denied by {d.policy} on {d.pod}", 403
            if len(denied) < len(result.destinations):
                result.notes.append(f"{len(denied)} of {len(result.destinations)} destination pods deny it")
            return
        result.policy = next((d.policy for d in result.destinations if d.policy), "")
        if result.status is None and not result.error:
            result.status = 200


def simulate(snapshot: MeshSnapshot, source: str, request: Request) -> SimulationResult:
    return Simulator(snapshot).run(source, request)
