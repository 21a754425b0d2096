"""IST0113 MTLSPolicyConflict: a DestinationRule's client TLS mode and the PeerAuthentication of the
workloads behind the host disagree, so every connection fails:

- the DestinationRule sends Istio mTLS (`ISTIO_MUTUAL`) but the servers' mode is `DISABLE`;
- the DestinationRule sends plaintext or its own TLS (`DISABLE`, `SIMPLE`, `MUTUAL`) but the servers'
  mode is `STRICT`.
`PERMISSIVE` accepts both; a DestinationRule without `tls` uses auto mTLS and never conflicts. The
server mode is composed per workload and target port with Istio's PeerAuthentication precedence
(pilot.model.authn); port-level DestinationRule settings override the top-level one for their port.
https://istio.io/latest/docs/ops/configuration/security/authentication-policy/ (the former
istioctl MTLSAnalyzer reported these as IST0113).
"""

from __future__ import annotations

from typing import Any

from pilot.analysis.messages import MTLS_POLICY_CONFLICT, report
from pilot.analysis.pods import selected
from pilot.model.authn import DISABLE, STRICT, compose_peer_authentication
from pilot.model.findings import Finding
from pilot.model.registry import Service, Workload
from pilot.model.resource import Resource
from pilot.model.scope import resolve_host
from pilot.model.snapshot import MeshSnapshot


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _tls_mode(policy: Any) -> str:
    return str(_dict(_dict(policy).get("tls")).get("mode") or "").upper()


def _dr_mode_for_port(dr: Resource, port: int) -> tuple[str, str]:
    """(client TLS mode, field) the DestinationRule sets for `port`: port-level first."""
    top = _dict(dr.spec.get("trafficPolicy"))
    for i, pls in enumerate(top.get("portLevelSettings") or []):
        if _dict(_dict(pls).get("port")).get("number") == port and _tls_mode(pls):
            return _tls_mode(pls), f"spec.trafficPolicy.portLevelSettings[{i}].tls.mode"
    return _tls_mode(top), "spec.trafficPolicy.tls.mode"


def _policies_for(snapshot: MeshSnapshot, w: Workload) -> list[Resource]:
    scopes = (w.namespace, snapshot.mesh.root_namespace)
    out = []
    for pa in snapshot.of_kind("PeerAuthentication"):
        labels = _dict(_dict(pa.spec.get("selector")).get("matchLabels"))
        if pa.namespace in scopes and w.matches({str(k): str(v) for k, v in labels.items()}):
            out.append(pa)
    return out


def _deciding_policy(snapshot: MeshSnapshot, policies: list[Resource], mode: str) -> Resource | None:
    """The most specific policy that states `mode` (workload, then namespace, then mesh)."""
    root = snapshot.mesh.root_namespace

    def rank(pa: Resource) -> int:
        has_selector = bool(_dict(_dict(pa.spec.get("selector")).get("matchLabels")))
        return 0 if has_selector and pa.namespace != root else (1 if pa.namespace != root else 2)

    for pa in sorted(policies, key=rank):
        modes = [_dict(pa.spec.get("mtls")).get("mode")] + [
            _dict(m).get("mode") for m in _dict(pa.spec.get("portLevelMtls")).values()]
        if mode in {str(m).upper() for m in modes if m}:
            return pa
    return None


def _conflict(client: str, server: str) -> bool:
    if client == "ISTIO_MUTUAL":
        return server == DISABLE
    return client in ("DISABLE", "SIMPLE", "MUTUAL") and server == STRICT


def _service_findings(snapshot: MeshSnapshot, dr: Resource, svc: Service) -> list[Finding]:
    backends = selected(snapshot, svc.namespace, svc.selector) if svc.selector else []
    out = []
    for port in svc.ports:
        client, field = _dr_mode_for_port(dr, port.port)
        if not client:
            continue
        for w in backends:
            policies = _policies_for(snapshot, w)
            server = compose_peer_authentication(snapshot.mesh.root_namespace, policies).mode_for(port.target_port)
            if not _conflict(client, server):
                continue
            pa = _deciding_policy(snapshot, policies, server)
            pa_name = f"{pa.namespace}/{pa.name}" if pa else "(default)"
            out.append(report(MTLS_POLICY_CONFLICT, dr, field, svc.hostname, f"{dr.namespace}/{dr.name}",
                              str(client == "ISTIO_MUTUAL").lower(), pa_name, server))
            break
    return out


def mtls_conflict_findings(snapshot: MeshSnapshot) -> list[Finding]:
    out: list[Finding] = []
    for dr in snapshot.of_kind("DestinationRule"):
        host = resolve_host(str(dr.spec.get("host", "")), dr.namespace, snapshot.mesh.domain_suffix)
        svc = snapshot.services.get(host)
        if svc is not None:
            out += _service_findings(snapshot, dr, svc)
    return out
