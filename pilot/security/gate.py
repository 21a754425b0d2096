"""The xDS stream gate: who a proxy *proves* to be, checked before the push loop sees the stream.

Wraps the controller's `on_connect`: the stream's bearer token must verify, match the node id's namespace
and pod, and carry the service account the registry has for that pod (istiod: ads.go authenticates,
auth.go matches the node; PILOT_ENABLE_XDS_IDENTITY_CHECK). The verified (namespace, service account) is
remembered per node id and is the only identity a secret is ever made for. Refusals are logged with their
reason and counted; the client only learns "credential refused".
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping

import grpc

from pilot.ca.identity import Identity
from pilot.ca.proxy_auth import authenticate_proxy
from pilot.ca.tokens import CredentialError, Refusal, TokenIssuer
from pilot.model.proxy import NodeId, NodeIdError
from pilot.model.snapshot import MeshSnapshot
from pilot.security.counters import SecurityCounters
from pilot.xds.server import StreamRefused

log = logging.getLogger(__name__)

REFUSED_METRIC = "meshpilot_xds_credential_refused_total"
# Bad or absent credentials are "who are you?"; a good credential for another pod is "not allowed".
_UNAUTHENTICATED = frozenset({Refusal.MISSING, Refusal.MALFORMED, Refusal.BAD_SIGNATURE, Refusal.EXPIRED})

OnConnect = Callable[[object, Mapping[str, str], str], Awaitable[None]]
OnDisconnect = Callable[[str], Awaitable[None] | None]


class ProxyGate:
    """Authenticates streams and keeps node id -> verified identity while the node has a stream open."""

    def __init__(self, issuer: TokenIssuer, snapshot: Callable[[], MeshSnapshot | None],
                 counters: SecurityCounters, *, require_credentials: bool = True) -> None:
        self._issuer = issuer
        self._snapshot = snapshot
        self._counters = counters
        self.require_credentials = require_credentials
        self._identities: dict[str, Identity] = {}
        self._streams: Counter[str] = Counter()

    def identity_of(self, node_id: str) -> Identity | None:
        return self._identities.get(node_id)

    def identities(self) -> set[Identity]:
        return set(self._identities.values())

    def nodes_of(self, identities: set[Identity]) -> list[str]:
        return sorted(n for n, i in self._identities.items() if i in identities)

    def wrap(self, on_connect: OnConnect, on_disconnect: OnDisconnect) -> tuple[OnConnect, OnDisconnect]:
        """Hooks for the xDS server: authenticate, then let the controller admit the node."""

        async def connect(node: object, metadata: Mapping[str, str], peer: str) -> None:
            node_id = str(getattr(node, "id", ""))
            identity = self.authenticate(node_id, metadata, peer)
            if identity is not None:
                self._hold(node_id, identity)
            try:
                await on_connect(node, metadata, peer)
            except BaseException:
                if identity is not None:
                    self._release(node_id)
                raise

        async def disconnect(node_id: str) -> None:
            self._release(node_id)
            result = on_disconnect(node_id)
            if result is not None:
                await result

        return connect, disconnect

    def authenticate(self, node_id: str, metadata: Mapping[str, str], peer: str) -> Identity | None:
        """The node's verified identity; StreamRefused when the credential does not hold up. None when the
        node id is malformed (the controller refuses it with the parse error)."""
        try:
            node = NodeId.parse(node_id)
        except NodeIdError:
            return None
        snap = self._snapshot()
        if snap is None:
            raise StreamRefused(grpc.StatusCode.UNAVAILABLE, "control plane not ready: sources not synced")
        if not self.require_credentials:
            return Identity(node.namespace, _registry_sa(snap, node.namespace, node.pod) or "default")
        try:
            claims = authenticate_proxy(self._issuer, metadata.items(), node_ns=node.namespace,
                                        node_pod=node.pod, lookup_sa=lambda ns, pod: _registry_sa(snap, ns, pod))
        except CredentialError as exc:
            self._counters.inc(REFUSED_METRIC, exc.reason.value)
            log.warning("refused xDS stream of node %s from %s: %s", node_id, peer, exc)
            code = grpc.StatusCode.UNAUTHENTICATED if exc.reason in _UNAUTHENTICATED \
                else grpc.StatusCode.PERMISSION_DENIED
            raise StreamRefused(code, "proxy credential refused") from exc
        return Identity(claims.ns, claims.sa)

    def _hold(self, node_id: str, identity: Identity) -> None:
        self._identities[node_id] = identity
        self._streams[node_id] += 1

    def _release(self, node_id: str) -> None:
        if self._streams[node_id] <= 1:
            self._streams.pop(node_id, None)
            self._identities.pop(node_id, None)
        else:
            self._streams[node_id] -= 1


def _registry_sa(snap: MeshSnapshot, namespace: str, pod: str) -> str | None:
    """The service account the registry has for a pod (never what the proxy says)."""
    for w in snap.workloads:
        if w.namespace == namespace and w.name == pod:
            return w.service_account
    return None
