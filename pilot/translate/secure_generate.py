"""`generate` plus security: RBAC and mTLS chains inbound, client TLS outbound, endpoint tlsMode labels.

`generate()` applies it last, with `mtls` from the mesh config (true when the control plane runs a CA).
With `mtls=False` (no CA) traffic stays plaintext: only
AuthorizationPolicies and DestinationRule SIMPLE/MUTUAL apply, and a proxy with neither gets exactly what
`generate` made. Secrets are per proxy identity and are added by the server, not here.
"""

from __future__ import annotations

from pilot.model.findings import Finding
from pilot.model.proxy import ProxyView
from pilot.model.snapshot import MeshSnapshot
from pilot.translate.inbound_security import InboundSecurity
from pilot.translate.outbound_security import label_meshed_endpoints, secure_cluster
from pilot.translate.resource_types import CLUSTER, ENDPOINT, LISTENER, Resources


def apply_security(snapshot: MeshSnapshot, view: ProxyView, resources: Resources, *, mtls: bool,
                   findings: list[Finding] | None = None) -> Resources:
    out = dict(resources)
    inbound = InboundSecurity(snapshot, view, mtls=mtls)
    if findings is not None:
        findings.extend(inbound.findings)
    if inbound.changes_anything and LISTENER in out:
        out[LISTENER] = {name: inbound.apply(res) for name, res in out[LISTENER].items()}
    if CLUSTER in out:
        out[CLUSTER] = {name: secure_cluster(snapshot, view, name, res, mtls=mtls)
                        for name, res in out[CLUSTER].items()}
    if mtls and ENDPOINT in out:
        out[ENDPOINT] = {name: label_meshed_endpoints(snapshot, name, res) for name, res in out[ENDPOINT].items()}
    return out
