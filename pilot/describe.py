"""`pilot x describe pod POD.NS`: the mesh config that applies to one pod, as `istioctl x describe pod`.

For each service that selects the pod: its ports, the DestinationRule with the subsets the pod is in and
the client TLS mode, the VirtualService routes with their matches and weights (marking the destinations
that can reach this pod); then the pod's effective PeerAuthentication mode and the AuthorizationPolicies
that select it. https://istio.io/latest/docs/ops/diagnostic-tools/istioctl-describe/
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pilot.model.authn import authorization_policies_for, merged_peer_authentication, peer_authentications_for
from pilot.model.proxy import NodeId, ProxyView
from pilot.model.registry import Service, Workload
from pilot.model.resource import Resource
from pilot.model.scope import destination_rule_for, resolve_host, subsets, virtual_service_for
from pilot.model.snapshot import MeshSnapshot

RULE = "-" * 20


class DescribeError(ValueError):
    """The pod is not known."""


def find_pod(snapshot: MeshSnapshot, pod: str) -> Workload:
    name, _, namespace = pod.rpartition(".")
    if not name:
        name, namespace = pod, "default"
    w = next((w for w in snapshot.workloads if w.name == name and w.namespace == namespace), None)
    if w is None:
        raise DescribeError(f"no pod {name!r} in namespace {namespace!r} (pods need status.podIP)")
    return w


def describe_pod(snapshot: MeshSnapshot, pod: str) -> list[str]:
    w = find_pod(snapshot, pod)
    view = snapshot.proxy_view(NodeId("sidecar", w.ip, w.name, w.namespace, f"{w.namespace}.svc.cluster.local"))
    labels = ", ".join(f"{k}={v}" for k, v in sorted(w.labels.items())) or "none"
    out = [f"Pod: {w.name}.{w.namespace}", f"   IP: {w.ip}   Service account: {w.service_account}",
           f"   Labels: {labels}"]
    if w.container_ports:
        out.append("   Pod Ports: " + ", ".join(str(p) for p in w.container_ports))
    services = [s for s in snapshot.services.values()
                if s.namespace == w.namespace and s.selector and w.matches(s.selector)]
    if not services:
        out.append("WARNING: no Service selects this pod; it receives no mesh traffic by name")
    pa = merged_peer_authentication(snapshot, view)
    for svc in sorted(services, key=lambda s: s.hostname):
        out += [RULE, *_service_lines(snapshot, view, svc, w, pa.mode_for)]
    out += [RULE, *_security_lines(snapshot, view, pa.mode, pa.per_port)]
    return out


def _service_lines(snapshot: MeshSnapshot, view: ProxyView, svc: Service, w: Workload,
                   server_mode: Any) -> list[str]:
    out = [f"Service: {svc.name}.{svc.namespace}"]
    for p in svc.ports:
        out.append(f"   Port: {p.name or '-'} {p.port}/{p.protocol} targets pod port {p.target_port}")
    dr = destination_rule_for(snapshot, view, svc.hostname)
    mine: list[str] = []
    if dr is None:
        out.append("No DestinationRule")
    else:
        all_subsets = subsets(dr)
        mine = [str(s.get("name")) for s in all_subsets if w.matches(s.get("labels") or {})]
        others = [str(s.get("name")) for s in all_subsets if str(s.get("name")) not in mine]
        out.append(f'DestinationRule: {dr.name}.{dr.namespace} for "{dr.spec.get("host", "")}"')
        out.append("   Matching subsets: " + (",".join(mine) or "none"))
        if others:
            out.append(f"      (Non-matching subsets {','.join(others)})")
        for p in svc.ports:
            mode = _client_tls_mode(dr.spec, p.port)
            out.append(f"   Traffic Policy TLS Mode (port {p.port}): {mode or 'unset (auto mTLS)'}")
            conflict = _tls_conflict(mode, server_mode(p.target_port))
            if conflict:
                out.append(f"   WARNING: {conflict}")
    vs = virtual_service_for(snapshot, view, svc.hostname)
    if vs is None:
        out.append("No VirtualService (default routing: round robin over every endpoint)")
    else:
        out += _virtual_service_lines(vs, svc, mine, snapshot.mesh.domain_suffix)
    return out


def _client_tls_mode(spec: Mapping[str, Any], port: int) -> str:
    policy = spec.get("trafficPolicy") or {}
    for pls in policy.get("portLevelSettings") or []:
        if (pls.get("port") or {}).get("number") == port and (pls.get("tls") or {}).get("mode"):
            return str(pls["tls"]["mode"])
    return str((policy.get("tls") or {}).get("mode") or "")


def _tls_conflict(client_mode: str, server_mode: str) -> str:
    # https://istio.io/latest/docs/ops/configuration/traffic-management/tls-configuration/
    if server_mode == "STRICT" and client_mode in ("DISABLE", "SIMPLE", "MUTUAL"):
        return f"clients send {client_mode} but the pod's PeerAuthentication is STRICT: requests will fail"
    if server_mode == "DISABLE" and client_mode == "ISTIO_MUTUAL":
        return "clients send ISTIO_MUTUAL but the pod's PeerAuthentication is DISABLE: requests will fail"
    return ""


def _virtual_service_lines(vs: Resource, svc: Service, mine: list[str], suffix: str) -> list[str]:
    out = [f"VirtualService: {vs.name}.{vs.namespace}"]
    http = list(vs.spec.get("http") or [])
    for kind in ("http", "tcp", "tls"):
        n = len(vs.spec.get(kind) or [])
        if n:
            out.append(f"   {n} {kind.upper()} route(s)")
    for i, route in enumerate(http):
        out.append(f"   Route {route.get('name') or i}: when {_matches(route.get('match') or [])}")
        dests = route.get("route") or []
        if not dests:
            what = "redirect" if route.get("redirect") else "direct response" if route.get("directResponse") \
                else "delegate" if route.get("delegate") else "no destination"
            out.append(f"      {what}")
        for d in dests:
            dest = d.get("destination") or {}
            host = resolve_host(str(dest.get("host", "")), vs.namespace, suffix)
            subset = str(dest.get("subset") or "")
            weight = d.get("weight", 100 if len(dests) == 1 else 0)
            reaches = host == svc.hostname and (not subset or subset in mine)
            target = f'"{dest.get("host", "")}"' + (f' subset "{subset}"' if subset else "")
            out.append(f"      to {target} weight {weight}%" + ("  <- this pod" if reaches else ""))
    return out


def _matches(matches: list[Mapping[str, Any]]) -> str:
    """`uri prefix /a and headers[end-user] exact jason or ...`; no match means every request."""
    if not matches:
        return "any request"
    alternatives = []
    for m in matches:
        conds = []
        for key, value in m.items():
            if key in ("headers", "queryParams", "withoutHeaders") and isinstance(value, Mapping):
                conds += [f"{key}[{name}] {_op(v)}" for name, v in value.items()]
            elif isinstance(value, Mapping) and key in ("uri", "authority", "method", "scheme"):
                conds.append(f"{key} {_op(value)}")
            elif key != "name":
                conds.append(f"{key}={value}")
        alternatives.append(" and ".join(conds) or "any request")
    return " or ".join(alternatives)


def _op(match: Any) -> str:
    if isinstance(match, Mapping) and match:
        op, value = next(iter(match.items()))
        return f"{op} {value}"
    return "present"


def _security_lines(snapshot: MeshSnapshot, view: ProxyView, mode: str, per_port: Mapping[int, str]) -> list[str]:
    applied = peer_authentications_for(snapshot, view)
    out = ["Effective PeerAuthentication:", f"   Workload mTLS mode: {mode}"]
    out += [f"   Port {port}: {m}" for port, m in sorted(per_port.items())]
    out.append("Applied PeerAuthentication: " + (", ".join(f"{p.name}.{p.namespace}" for p in applied) or "none"))
    policies = authorization_policies_for(snapshot, view)
    names = [f"{action} {p.name}.{p.namespace}" for action, ps in policies.items() for p in ps]
    out.append("AuthorizationPolicies: " + (", ".join(names) or "none (every request is allowed)"))
    if policies.get("ALLOW"):
        out.append("   with an ALLOW policy, requests that match none of its rules are denied")
    return out
