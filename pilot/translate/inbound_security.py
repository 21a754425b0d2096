"""Security on a sidecar's inbound listeners (AuthorizationPolicy RBAC and PeerAuthentication filter chains)
and on a gateway's listeners (RBAC).

Applied to listeners `listeners.py` already built (Istio's authn/authz plugins work the same way: they
decorate the inbound chains after the networking core made them), so the listener builder stays unaware
of security.

- RBAC: HTTP filters go first in the connection manager, before fault, cors and router; on TCP chains the
  network RBAC filters go before tcp_proxy. Present whether or not mTLS is on (ipBlocks, paths and methods
  need no certificates; principals and namespaces simply never match plaintext peers).
- mTLS (only when the control plane runs a CA): the chain is replaced by the chains of the port's
  effective PeerAuthentication mode (STRICT / PERMISSIVE / DISABLE) with the TLS inspector as needed.
https://istio.io/latest/docs/reference/config/security/peer_authentication/
https://istio.io/latest/docs/reference/config/security/authorization-policy/
"""

from __future__ import annotations

from envoy.config.listener.v3.listener_components_pb2 import Filter, FilterChain, ListenerFilter
from envoy.config.listener.v3.listener_pb2 import Listener
from envoy.extensions.filters.network.http_connection_manager.v3.http_connection_manager_pb2 import (
    HttpConnectionManager,
    HttpFilter,
)
from google.protobuf.any_pb2 import Any as AnyPb

from pilot.model.authn import authorization_policies_for, effective_mtls_mode
from pilot.model.findings import Finding
from pilot.model.proxy import ProxyView
from pilot.model.snapshot import MeshSnapshot
from pilot.translate.pb import pack
from pilot.translate.rbac import build_http_rbac_filters, build_network_rbac_filters
from pilot.translate.tls import inbound_filter_chains
from pilot.translate.virtual_inbound import VIRTUAL_INBOUND, is_blackhole

HCM = "envoy.filters.network.http_connection_manager"
INBOUND = 1  # core.v3.TrafficDirection.INBOUND


class InboundSecurity:
    """The security decorations of one proxy's inbound listeners (built once per ProxyView)."""

    def __init__(self, snapshot: MeshSnapshot, view: ProxyView, *, mtls: bool) -> None:
        self.snapshot = snapshot
        self.view = view
        self.mtls = mtls
        policies = authorization_policies_for(snapshot, view)
        self._policies = policies if any(policies.values()) else {}
        findings: list[Finding] = []
        td = snapshot.mesh.trust_domain
        self.http_rbac: list[HttpFilter] = build_http_rbac_filters(self._policies, td, findings) \
            if self._policies else []
        self.network_rbac: list[Filter] = build_network_rbac_filters(self._policies, td, findings) \
            if self._policies else []
        # e.g. a CUSTOM policy refused; both builders report it, the push loop logs new findings once
        self.findings = list(dict.fromkeys(findings))

    @property
    def changes_anything(self) -> bool:
        return self.mtls or bool(self._policies)

    def apply(self, packed: AnyPb) -> AnyPb:
        """The listener with RBAC and mTLS chains; other listeners come back unchanged."""
        lis = Listener()
        packed.Unpack(lis)
        if self.view.is_gateway:
            return self._gateway(lis, packed)
        if lis.name == VIRTUAL_INBOUND:
            return self._virtual_inbound(lis)
        if lis.traffic_direction != INBOUND or len(lis.filter_chains) != 1:
            return packed
        chains, listener_filters = self._secured(_copy(lis.filter_chains[0]), lis.address.socket_address.port_value)
        del lis.filter_chains[:]
        lis.filter_chains.extend(chains)
        lis.listener_filters.extend(listener_filters)
        return pack(lis)

    def _virtual_inbound(self, lis: Listener) -> AnyPb:
        """A captured sidecar's :15006 listener: each chain secured for the port it matches (the
        passthrough chain, matching no port, under the workload-wide mode); the blackhole chain as is."""
        chains: list[FilterChain] = []
        inspectors: dict[str, ListenerFilter] = {}
        for chain in map(_copy, lis.filter_chains):
            if is_blackhole(chain):
                chains.append(chain)
                continue
            secured, listener_filters = self._secured(chain, chain.filter_chain_match.destination_port.value)
            chains.extend(secured)
            inspectors.update((f.name, f) for f in listener_filters)
        del lis.filter_chains[:]
        lis.filter_chains.extend(chains)
        lis.listener_filters.extend(f for name, f in inspectors.items()
                                    if name not in {g.name for g in lis.listener_filters})
        return pack(lis)

    def _secured(self, chain: FilterChain, port: int) -> tuple[list[FilterChain], list[ListenerFilter]]:
        """One inbound chain with RBAC, and as the chains of the port's mTLS mode when mTLS is on."""
        http = bool(chain.filters) and chain.filters[0].name == HCM
        filters = self._with_rbac(list(chain.filters), http)
        if not self.mtls:
            del chain.filters[:]
            chain.filters.extend(filters)
            return [chain], []
        mode = effective_mtls_mode(self.snapshot, self.view, port)
        chains = inbound_filter_chains(mode, http, lambda _mtls: list(filters), match=chain.filter_chain_match)
        return _named(chain.name, chains.filter_chains), chains.listener_filters

    def _gateway(self, lis: Listener, packed: AnyPb) -> AnyPb:
        """A gateway's own listeners are where its traffic arrives: every chain gets the RBAC filters of
        the AuthorizationPolicies selecting the gateway pod (its mTLS story is the Gateway's TLS)."""
        if not self._policies:
            return packed
        for chain in lis.filter_chains:
            filters = list(chain.filters)
            http = bool(filters) and filters[0].name == HCM
            del chain.filters[:]
            chain.filters.extend(self._with_rbac(filters, http))
        return pack(lis)

    def _with_rbac(self, filters: list[Filter], http: bool) -> list[Filter]:
        if not self._policies or not filters:
            return filters
        if not http:
            return [*self.network_rbac, *filters]
        manager = HttpConnectionManager()
        filters[0].typed_config.Unpack(manager)
        existing = list(manager.http_filters)
        del manager.http_filters[:]
        manager.http_filters.extend([*self.http_rbac, *existing])
        return [Filter(name=filters[0].name, typed_config=pack(manager)), *filters[1:]]


def _copy(chain: FilterChain) -> FilterChain:
    out = FilterChain()
    out.CopyFrom(chain)
    return out


def _named(base: str, chains: list[FilterChain]) -> list[FilterChain]:
    """Distinct chain names (they show up in stats and config dumps): `<base>` plus what the chain takes."""
    for chain in chains:
        match = chain.filter_chain_match
        kind = "mtls" if chain.HasField("transport_socket") else (match.transport_protocol or "plaintext")
        chain.name = f"{base}_{kind}" if len(chains) > 1 else base
    return chains
