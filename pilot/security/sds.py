"""SDS over ADS from the control plane: each proxy gets `default` (its own cert chain and key) and `ROOTCA`.

The certificate is always that of the identity the gate *verified* for the node id, never one derived from
node metadata, and those two names are all a node's cache ever holds, so no request can reach another
identity's key. Requests naming anything else are logged and counted (istiod drops unauthorized names
silently the same way, pilot/pkg/xds/sds.go).

The workload's private key travels in `default` over the ADS stream. On loopback that is acceptable;
across hosts the ADS stream must be TLS (Istio avoids it by making the key inside the pod).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from pilot.ca.rotation import CertStore
from pilot.model.proxy import NodeId, ProxyView
from pilot.model.snapshot import MeshSnapshot
from pilot.security.counters import SecurityCounters
from pilot.security.gate import ProxyGate
from pilot.translate.generate import Resources
from pilot.translate.secrets import SECRET_TYPE_URL, WORKLOAD_SECRET_NAMES, workload_secrets

log = logging.getLogger(__name__)

DENIED_METRIC = "meshpilot_sds_denied_total"
NOT_OWN_IDENTITY = "not_own_identity"


class WorkloadSecretSource:
    """`MeshController.extra_resources` entry: the SDS secrets of one proxy."""

    def __init__(self, gate: ProxyGate, certs: CertStore, root_pem: bytes, counters: SecurityCounters) -> None:
        self._gate = gate
        self._certs = certs
        self._root_pem = root_pem
        self._counters = counters
        self._packed: dict[tuple[str, str], tuple[object, dict[str, Any]]] = {}

    def __call__(self, _snapshot: MeshSnapshot, _view: ProxyView, node: NodeId) -> Resources:
        identity = self._gate.identity_of(str(node))
        if identity is None:
            return {}
        cert = self._certs.get(identity.ns, identity.sa)
        # Every proxy of an identity shares one certificate: pack it once per certificate, so pushes
        # hand the xDS cache the same objects (serialised and hashed once) instead of fresh copies.
        packed = self._packed.get((identity.ns, identity.sa))
        if packed is None or packed[0] is not cert:
            packed = (cert, workload_secrets(cert, self._root_pem))
            self._packed[(identity.ns, identity.sa)] = packed
        return {SECRET_TYPE_URL: packed[1]}

    def check_request(self, node_id: str, type_url: str, names: Sequence[str]) -> None:
        """xDS request hook: count every secret name a proxy asks for that is not its own."""
        if type_url != SECRET_TYPE_URL:
            return
        denied = sorted(set(names) - WORKLOAD_SECRET_NAMES)
        if denied:
            self._counters.inc(DENIED_METRIC, NOT_OWN_IDENTITY, len(denied))
            log.warning("node %s (identity %s) asked for secrets %s that are not its own; not served",
                        node_id, self._gate.identity_of(node_id), denied)
