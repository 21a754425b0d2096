"""IST0128/IST0129: a DestinationRule originates TLS (`SIMPLE` or `MUTUAL`) without `caCertificates`, so
the server's certificate is never verified, at the top level (IST0128) or for one port (IST0129).

Istio's CaCertificateAnalyzer (istio/istio pkg/config/analysis/analyzers/destinationrule). `ISTIO_MUTUAL`
verifies against the mesh CA and is not reported.
https://istio.io/latest/docs/reference/config/analysis/ist0128/
"""

from __future__ import annotations

from typing import Any

from pilot.analysis.messages import (
    NO_SERVER_CERT_VERIFICATION_DESTINATION,
    NO_SERVER_CERT_VERIFICATION_PORT,
    report,
)
from pilot.model.findings import Finding
from pilot.model.snapshot import MeshSnapshot

_ORIGINATING = ("SIMPLE", "MUTUAL")


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _unverified(policy: dict[str, Any]) -> str:
    """The TLS mode when `policy` originates TLS without a CA to check the server with, else ""."""
    tls = _dict(policy.get("tls"))
    mode = str(tls.get("mode") or "").upper()
    return mode if mode in _ORIGINATING and not tls.get("caCertificates") else ""


def server_verification_findings(snapshot: MeshSnapshot) -> list[Finding]:
    out = []
    for dr in snapshot.of_kind("DestinationRule"):
        top = _dict(dr.spec.get("trafficPolicy"))
        host = str(dr.spec.get("host", ""))
        full_name = f"{dr.namespace}/{dr.name}"
        mode = _unverified(top)
        if mode:
            out.append(report(NO_SERVER_CERT_VERIFICATION_DESTINATION, dr, "spec.trafficPolicy.tls", full_name,
                              dr.namespace, mode, host))
        levels = top.get("portLevelSettings")
        for i, pls in enumerate(levels if isinstance(levels, list) else []):
            mode = _unverified(_dict(pls))
            if mode:
                port = _dict(_dict(pls).get("port")).get("number")
                field = f"spec.trafficPolicy.portLevelSettings[{i}].tls"
                out.append(report(NO_SERVER_CERT_VERIFICATION_PORT, dr, field, full_name, dr.namespace, mode, host,
                                  port))
    return out
