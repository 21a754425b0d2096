"""Client-side TLS on outbound clusters and the endpoint labels auto-mTLS keys on.

Applied to clusters and load assignments `clusters.py` / `endpoints.py` already built:
- a DestinationRule `trafficPolicy.tls` (with Istio's subset/port precedence) picks DISABLE, SIMPLE, MUTUAL
  or ISTIO_MUTUAL; ISTIO_MUTUAL needs the mesh CA, SIMPLE and MUTUAL do not;
- without one, and with the CA on, auto-mTLS: Istio mTLS to endpoints labelled `tlsMode: istio`,
  plaintext to the rest, SNI `outbound_.<port>_.<subset>_.<fqdn>` and the server's SPIFFE ids as SANs;
- an endpoint gets `tlsMode: istio` when a sidecar runs in front of it and its own PeerAuthentication is
  not DISABLE (Istio's EDS mTLS checker does the same).
https://istio.io/latest/docs/reference/config/networking/destination-rule/#ClientTLSSettings
https://istio.io/latest/docs/tasks/security/authentication/authn-policy/#auto-mutual-tls
"""

from __future__ import annotations

import logging

from envoy.config.cluster.v3.cluster_pb2 import Cluster
from envoy.config.endpoint.v3.endpoint_pb2 import ClusterLoadAssignment
from google.protobuf.any_pb2 import Any as AnyPb

from pilot.model.authn import (
    DISABLE,
    endpoint_is_meshed,
    endpoint_mtls_mode,
    service_identities,
    workload_mtls_mode,
)
from pilot.model.proxy import ProxyView
from pilot.model.resource import Resource
from pilot.model.scope import destination_rule_for
from pilot.model.snapshot import MeshSnapshot
from pilot.translate.clusters import merged_policy
from pilot.translate.names import parse_outbound_cluster
from pilot.translate.pb import pack
from pilot.translate.tls import endpoint_tls_metadata, istio_sni, upstream_transport

log = logging.getLogger(__name__)

MESH_ONLY_MODES = frozenset({"ISTIO_MUTUAL"})


def _memo(snapshot: MeshSnapshot) -> dict[tuple[object, ...], AnyPb]:
    """Results for one snapshot, kept in its memo and dropped with it."""
    return snapshot.memo.setdefault(("outbound-security",), {})  # type: ignore[no-any-return]


def secure_cluster(snapshot: MeshSnapshot, view: ProxyView, name: str, packed: AnyPb, *,
                   mtls: bool) -> AnyPb:
    """Cluster `name` with its client TLS (or unchanged: inbound, blackhole, plain destinations)."""
    parsed = parse_outbound_cluster(name)
    if parsed is None:
        return packed
    dr = destination_rule_for(snapshot, view, parsed[2])
    # Most proxies of a snapshot share clusters: the result depends only on the cluster and the rule.
    key = ("cluster", name, packed.value, dr.key if dr else None, mtls)
    memo = _memo(snapshot)
    if key not in memo:
        memo[key] = _secure_cluster(snapshot, parsed, dr, packed, mtls)
    return memo[key]


def _secure_cluster(snapshot: MeshSnapshot, parsed: tuple[int, str, str], dr: Resource | None,
                    packed: AnyPb, mtls: bool) -> AnyPb:
    port, subset, host = parsed
    svc = snapshot.services.get(host)
    sp = svc.port(port) if svc else None
    tls = merged_policy(dr, subset, port).get("tls") if dr else None
    mode = str((tls or {}).get("mode") or "DISABLE").upper()
    if tls and mode in MESH_ONLY_MODES and not mtls:
        log.warning("%s: DestinationRule tls.mode %s needs the mesh CA (pilot serve --ca-dir); plaintext",
                    host, mode)
        return packed
    if not tls and not mtls:
        return packed
    destination_mode = workload_mtls_mode(snapshot, host, port) if mtls else DISABLE
    try:
        transport = upstream_transport(
            tls, sni=istio_sni(port, subset, host), sans=service_identities(snapshot, host, port),
            destination_mode=destination_mode, http2=bool(sp and sp.protocol in ("HTTP2", "GRPC")))
    except ValueError as exc:  # e.g. MUTUAL without a client certificate: validation reports it
        log.warning("%s: DestinationRule tls ignored: %s", host, exc)
        return packed
    if transport.transport_socket is None and not transport.transport_socket_matches:
        return packed
    cluster = Cluster()
    packed.Unpack(cluster)
    transport.apply(cluster)
    return pack(cluster)


def label_meshed_endpoints(snapshot: MeshSnapshot, name: str, packed: AnyPb) -> AnyPb:
    """Load assignment `name` with `tlsMode: istio` metadata on endpoints whose sidecar takes Istio mTLS."""
    parsed = parse_outbound_cluster(name)
    if parsed is None:
        return packed
    key = ("endpoints", name, packed.value)
    memo = _memo(snapshot)
    if key not in memo:
        memo[key] = _label_meshed_endpoints(snapshot, parsed, packed)
    return memo[key]


def _label_meshed_endpoints(snapshot: MeshSnapshot, parsed: tuple[int, str, str], packed: AnyPb) -> AnyPb:
    port, _subset, host = parsed
    meshed = {(ep.address, ep.port) for ep in snapshot.service_endpoints(host, port)
              if endpoint_is_meshed(snapshot, ep) and endpoint_mtls_mode(snapshot, ep) != DISABLE}
    if not meshed:
        return packed
    cla = ClusterLoadAssignment()
    packed.Unpack(cla)
    metadata = endpoint_tls_metadata()
    for locality in cla.endpoints:
        for lb in locality.lb_endpoints:
            sock = lb.endpoint.address.socket_address
            if (sock.address, sock.port_value) in meshed:
                lb.metadata.MergeFrom(metadata)
    return pack(cla)

