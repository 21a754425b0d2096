"""IST0149 (JwtClaimBasedRoutingWithoutRequestAuthN): a VirtualService routes on JWT claims
(`@request.auth.claims...` match keys) through a gateway whose pods no RequestAuthentication selects, so
no token is validated there and no claim is ever available to the route.

Follows istioctl's JWTClaimRouteAnalyzer: every pod a bound Gateway selects needs a RequestAuthentication
from the root namespace or its own namespace whose `selector.matchLabels` match it (none: all pods).
Gateways that do not exist are IST0101's business. https://istio.io/latest/docs/reference/config/analysis/ist0149/
"""

from __future__ import annotations

from collections.abc import Iterator

from pilot.analysis.messages import JWT_CLAIM_ROUTING_WITHOUT_REQUEST_AUTHN, report
from pilot.analysis.pods import analysis_workloads
from pilot.model.findings import Finding
from pilot.model.jwt_claims import is_claim_key
from pilot.model.registry import Workload
from pilot.model.resource import Resource
from pilot.model.scope import vs_gateways
from pilot.model.snapshot import MeshSnapshot


def claim_keys(vs: Resource) -> Iterator[str]:
    """Claim match keys of a VirtualService's http matches, `headers` before `withoutHeaders`."""
    for rule in vs.spec.get("http") or []:
        for match in (rule.get("match") or []) if isinstance(rule, dict) else []:
            for field in ("headers", "withoutHeaders"):
                keys = (match.get(field) or {}) if isinstance(match, dict) else {}
                yield from (str(k) for k in sorted(keys, key=str) if is_claim_key(str(k)))


def _selector(ra: Resource) -> dict[str, str]:
    labels = (ra.spec.get("selector") or {}).get("matchLabels") or {}
    return {str(k): str(v) for k, v in labels.items()}


def _has_request_authn(snapshot: MeshSnapshot, pod: Workload) -> bool:
    scopes = (snapshot.mesh.root_namespace, pod.namespace)
    return any(ra.namespace in scopes and pod.matches(_selector(ra))
               for ra in snapshot.of_kind("RequestAuthentication"))


def jwt_claim_routing_findings(snapshot: MeshSnapshot) -> list[Finding]:
    gateways = {f"{g.namespace}/{g.name}": g for g in snapshot.of_kind("Gateway")}
    out: list[Finding] = []
    for vs in snapshot.of_kind("VirtualService"):
        key = next(claim_keys(vs), None)
        if key is None:
            continue
        for i, name in enumerate(vs_gateways(vs)):
            full = name if "/" in name else f"{vs.namespace}/{name}"
            gw = gateways.get(full)
            if name == "mesh" or gw is None:
                continue
            selector = {str(k): str(v) for k, v in (gw.spec.get("selector") or {}).items()}
            out.extend(report(JWT_CLAIM_ROUTING_WITHOUT_REQUEST_AUTHN, vs, f"spec.gateways[{i}]", key, full, pod.name)
                       for pod in analysis_workloads(snapshot)
                       if pod.matches(selector) and not _has_request_authn(snapshot, pod))
    return out
