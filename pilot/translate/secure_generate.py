"""`generate` plus security: RBAC and mTLS chains inbound, client TLS outbound, endpoint tlsMode labels.

`generate()` applies it last, with `mtls` from the mesh config (true when the control plane runs a CA).
With `mtls=False` (no CA) traffic stays plaintext: only
AuthorizationPolicies and DestinationRule SIMPLE/MUTUAL apply, and a proxy with neither gets exactly what
`generate` made. Secrets are per proxy identity and are added by the server, not here.

Outbound clusters and endpoints are shared by every proxy of an outbound scope (shared.py), and so is
their security: it is worked out once per scope and handed to each proxy by object identity.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from google.protobuf.any_pb2 import Any as AnyPb

from pilot.model.findings import Finding
from pilot.model.proxy import ProxyView
from pilot.model.scope import sidecar_for
from pilot.model.snapshot import MeshSnapshot
from pilot.translate.inbound_security import InboundSecurity
from pilot.translate.outbound_security import label_meshed_endpoints, secure_cluster
from pilot.translate.resource_types import CLUSTER, ENDPOINT, LISTENER, Resources
from pilot.translate.shared import outbound_scope, shared, shared_if_built


def apply_security(snapshot: MeshSnapshot, view: ProxyView, resources: Resources, *, mtls: bool,
                   findings: list[Finding] | None = None) -> Resources:
    out = dict(resources)
    inbound = InboundSecurity(snapshot, view, mtls=mtls)
    if findings is not None:
        findings.extend(inbound.findings)
    if inbound.changes_anything and LISTENER in out:
        out[LISTENER] = {name: inbound.apply(res) for name, res in out[LISTENER].items()}
    scope = outbound_scope(snapshot, view, sidecar_for(snapshot, view))
    if CLUSTER in out:
        secured = _secured_by_identity(snapshot, view, scope, mtls)
        out[CLUSTER] = {name: _pick(secured, res, lambda n=name, r=res: secure_cluster(  # type: ignore[misc]
            snapshot, view, n, r, mtls=mtls)) for name, res in out[CLUSTER].items()}
    if mtls and ENDPOINT in out:
        endpoints = out[ENDPOINT]
        shared_eds = shared_if_built(snapshot, ("eds", *scope))
        if endpoints is shared_eds:
            out[ENDPOINT] = shared(snapshot, ("eds-meshed", *scope),
                                   lambda: _label_all(snapshot, endpoints))
        else:
            out[ENDPOINT] = _label_all(snapshot, endpoints)
    return out


def _label_all(snapshot: MeshSnapshot, endpoints: Mapping[str, AnyPb]) -> dict[str, AnyPb]:
    return {name: label_meshed_endpoints(snapshot, name, res) for name, res in endpoints.items()}


def _secured_by_identity(snapshot: MeshSnapshot, view: ProxyView, scope: tuple[object, ...],
                         mtls: bool) -> Mapping[int, tuple[AnyPb, AnyPb]]:
    """id(shared outbound cluster) -> (that cluster, its secured form), once per scope."""
    clusters = shared_if_built(snapshot, ("cds-outbound", *scope))
    if clusters is None:
        return {}

    def build() -> dict[int, tuple[AnyPb, AnyPb]]:
        return {id(res): (res, secure_cluster(snapshot, view, name, res, mtls=mtls))
                for name, res in clusters.items()}

    return shared(snapshot, ("cds-outbound-secured", mtls, *scope), build)


def _pick(secured: Mapping[int, tuple[AnyPb, AnyPb]], res: AnyPb, otherwise: Callable[[], AnyPb]) -> AnyPb:
    hit = secured.get(id(res))
    return hit[1] if hit is not None and hit[0] is res else otherwise()
