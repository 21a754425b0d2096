"""Which security policy applies to a workload: PeerAuthentication mTLS modes and AuthorizationPolicies.

Pure lookups over a snapshot, following Istio's precedence
(https://istio.io/latest/docs/reference/config/security/peer_authentication/):

- a workload policy (selector, not in the root namespace) beats the namespace policy (no selector),
  which beats the mesh policy (no selector, in the root namespace); within a scope the oldest wins;
- an UNSET mode inherits from the next wider scope; a port-level UNSET inherits the workload mode;
- with no policy at all the mode is PERMISSIVE.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pilot.model.proxy import ProxyView
from pilot.model.registry import Endpoint
from pilot.model.resource import Resource
from pilot.model.snapshot import MeshSnapshot

STRICT = "STRICT"
PERMISSIVE = "PERMISSIVE"
DISABLE = "DISABLE"
UNSET = "UNSET"
MTLS_MODES = (STRICT, PERMISSIVE, DISABLE)

AUTHZ_ACTIONS = ("ALLOW", "DENY", "AUDIT", "CUSTOM")

# Istio's sidecar injector labels meshed pods `security.istio.io/tlsMode: istio`; a pod that opts out of
# injection carries `sidecar.istio.io/inject: "false"`. meshpilot runs a sidecar for every registry pod,
# so a pod is meshed unless it says otherwise.
TLS_MODE_LABEL = "security.istio.io/tlsMode"
INJECT_LABEL = "sidecar.istio.io/inject"


@dataclass(frozen=True)
class MergedPeerAuthentication:
    """The composed PeerAuthentication for one workload: a mode plus per-target-port overrides."""

    mode: str = PERMISSIVE
    per_port: Mapping[int, str] = field(default_factory=dict)

    def mode_for(self, port: int) -> str:
        return self.per_port.get(port, self.mode)


def _mode_of(mtls: Any) -> str:
    mode = str((mtls or {}).get("mode") or UNSET).upper() if isinstance(mtls, Mapping) else UNSET
    return mode if mode in MTLS_MODES else UNSET


def _match_labels(res: Resource) -> Mapping[str, str]:
    return (res.spec.get("selector") or {}).get("matchLabels") or {}


def peer_authentications_for(snapshot: MeshSnapshot, view: ProxyView) -> list[Resource]:
    """PeerAuthentications in the workload's namespace or the root namespace whose selector matches."""
    namespaces = {view.namespace, snapshot.mesh.root_namespace}
    return [pa for pa in snapshot.of_kind("PeerAuthentication")
            if pa.namespace in namespaces and view.matches(dict(_match_labels(pa)))]


def compose_peer_authentication(root_namespace: str,
                                policies: Iterable[Resource]) -> MergedPeerAuthentication:
    """Istio's precedence over already-selected policies; `policies` may come in any order."""
    mesh: Resource | None = None
    namespace: Resource | None = None
    workload: Resource | None = None
    for pa in sorted(policies, key=lambda r: (r.creation_timestamp or "~", r.namespace, r.name)):
        if not _match_labels(pa):
            if pa.namespace == root_namespace:
                mesh = mesh or pa
            else:
                namespace = namespace or pa
        elif pa.namespace != root_namespace:  # selector policies in the root namespace are ignored
            workload = workload or pa
    mode = PERMISSIVE
    for chosen in (mesh, namespace, workload):
        if chosen is not None and _mode_of(chosen.spec.get("mtls")) != UNSET:
            mode = _mode_of(chosen.spec.get("mtls"))
    per_port: dict[int, str] = {}
    if workload is not None:
        for port, mtls in (workload.spec.get("portLevelMtls") or {}).items():
            port_mode = _mode_of(mtls)
            if str(port).isdigit():
                per_port[int(port)] = mode if port_mode == UNSET else port_mode
    return MergedPeerAuthentication(mode=mode, per_port=per_port)


def merged_peer_authentication(snapshot: MeshSnapshot, view: ProxyView) -> MergedPeerAuthentication:
    return compose_peer_authentication(snapshot.mesh.root_namespace, peer_authentications_for(snapshot, view))


def effective_mtls_mode(snapshot: MeshSnapshot, view: ProxyView, port: int) -> str:
    """The inbound mTLS mode ("STRICT" | "PERMISSIVE" | "DISABLE") of `view` on its target `port`."""
    return merged_peer_authentication(snapshot, view).mode_for(port)


def namespace_mtls_mode(snapshot: MeshSnapshot, namespace: str) -> str:
    """The namespace-wide mode (oldest namespace policy, else the mesh policy, else PERMISSIVE)."""
    root = snapshot.mesh.root_namespace
    wide = [pa for pa in snapshot.of_kind("PeerAuthentication")
            if pa.namespace in (namespace, root) and not _match_labels(pa)]
    return compose_peer_authentication(root, wide).mode


def endpoint_is_meshed(snapshot: MeshSnapshot, endpoint: Endpoint) -> bool:
    """An endpoint is meshed (has a sidecar that terminates Istio mTLS) when a registry pod backs it."""
    if not endpoint.workload:
        return False
    labels = endpoint.labels
    return labels.get(TLS_MODE_LABEL, "istio") != "disabled" and labels.get(INJECT_LABEL, "true") != "false"


def _endpoint_view(snapshot: MeshSnapshot, endpoint: Endpoint) -> ProxyView:
    w = snapshot.workload(endpoint.namespace, endpoint.address)
    labels = dict(w.labels) if w else dict(endpoint.labels)
    return ProxyView(type="sidecar", ip=endpoint.address, name=endpoint.workload,
                     namespace=endpoint.namespace,
                     labels=tuple(sorted(labels.items())),
                     service_account=endpoint.service_account or "default")


def endpoint_mtls_mode(snapshot: MeshSnapshot, endpoint: Endpoint) -> str:
    """The inbound mode of the sidecar behind a meshed endpoint, on the endpoint's port. Istio leaves the
    `tlsMode` endpoint label off when it is DISABLE, so auto-mTLS sends plaintext to that endpoint."""
    return effective_mtls_mode(snapshot, _endpoint_view(snapshot, endpoint), endpoint.port)


def workload_mtls_mode(snapshot: MeshSnapshot, hostname: str, port: int) -> str:
    """How a client should talk to service `hostname:port` when no DestinationRule sets TLS.

    Istio's BestEffortInferServiceMTLSMode uses the namespace-wide policy of the service. We also look
    at the policies of the service's meshed endpoints on their target port, so a workload-level DISABLE
    is honoured: DISABLE if every meshed endpoint is DISABLE (or the service is external / unknown),
    STRICT if every one is STRICT, otherwise PERMISSIVE. Anything but DISABLE means "mTLS to endpoints
    that are meshed" (auto-mTLS picks per endpoint).
    """
    svc = snapshot.services.get(hostname)
    if svc is None or svc.mesh_external:
        return DISABLE
    meshed = [ep for ep in snapshot.service_endpoints(hostname, port) if endpoint_is_meshed(snapshot, ep)]
    if not meshed:
        return namespace_mtls_mode(snapshot, svc.namespace)
    modes = {effective_mtls_mode(snapshot, _endpoint_view(snapshot, ep), ep.port) for ep in meshed}
    if modes == {DISABLE}:
        return DISABLE
    if modes == {STRICT}:
        return STRICT
    return PERMISSIVE


def spiffe_id(trust_domain: str, namespace: str, service_account: str) -> str:
    return f"spiffe://{trust_domain}/ns/{namespace}/sa/{service_account}"


def service_identities(snapshot: MeshSnapshot, hostname: str, port: int) -> list[str]:
    """SPIFFE ids of the service accounts behind `hostname:port` (what a client checks in the server cert)."""
    td = snapshot.mesh.trust_domain
    return sorted({spiffe_id(td, ep.namespace, ep.service_account or "default")
                   for ep in snapshot.service_endpoints(hostname, port) if ep.namespace})


def authorization_policies_for(snapshot: MeshSnapshot, view: ProxyView) -> dict[str, list[Resource]]:
    """AuthorizationPolicies that apply to a sidecar, grouped by action (every action is a key).

    Istio gathers them from the root namespace and the workload's namespace; an empty selector selects
    every workload in scope. `targetRef(s)` policies attach to gateways and waypoints, never to sidecars.
    Order within an action is the snapshot's precedence (oldest first).
    """
    out: dict[str, list[Resource]] = {a: [] for a in AUTHZ_ACTIONS}
    namespaces = {view.namespace, snapshot.mesh.root_namespace}
    for ap in snapshot.of_kind("AuthorizationPolicy"):
        if ap.namespace not in namespaces or ap.spec.get("targetRef") or ap.spec.get("targetRefs"):
            continue
        if not view.matches(dict(_match_labels(ap))):
            continue
        action = str(ap.spec.get("action") or "ALLOW").upper()
        out.setdefault(action, []).append(ap)
    return out
